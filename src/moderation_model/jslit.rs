//! nsfwjs ships its model files as browserify bundles (`model.min.js`,
//! `group1-shard1of1.min.js`) so bundlers can import them. This unwraps them without running
//! any JavaScript: the weight shard is one base64 string literal, and the model is one object
//! literal in the minifier's subset of JavaScript (unquoted keys, `!0`/`!1`, `.5`), which is
//! converted to JSON. Anything outside that subset is an error, never a guess.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The bytes of the base64 string assigned to `exports` in a bundled weight shard.
pub(crate) fn shard_bytes(js: &str) -> Result<Vec<u8>, String> {
    let start = js
        .find("exports=\"")
        .ok_or("no `exports=\"...\"` string in the weight bundle")?
        + "exports=\"".len();
    let len = js[start..]
        .find('"')
        .ok_or("the weight bundle's string is not closed")?;
    STANDARD
        .decode(&js[start..start + len])
        .map_err(|e| format!("the weight bundle's base64 is invalid: {e}"))
}

/// The object literal assigned to `exports` in a bundled `model.json`, as JSON text.
pub(crate) fn model_json(js: &str) -> Result<String, String> {
    let start = js
        .find("exports={")
        .ok_or("no `exports={...}` object in the model bundle")?
        + "exports=".len();
    object_to_json(&js[start..])
}

/// Converts the object literal at the start of `src` (up to its closing brace) to JSON.
fn object_to_json(src: &str) -> Result<String, String> {
    let bytes = src.as_bytes();
    let mut out = String::with_capacity(src.len() + src.len() / 4);
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.checked_sub(1).ok_or("unbalanced brackets")?,
            _ => {}
        }
        match b {
            b'{' | b'}' | b'[' | b']' | b':' | b',' => {
                out.push(b as char);
                i += 1;
                if depth == 0 {
                    return Ok(out);
                }
            }
            b'"' => i = string(src, i, &mut out)?,
            b'!' => {
                out.push_str(match bytes.get(i + 1) {
                    Some(b'0') => "true",
                    Some(b'1') => "false",
                    _ => return Err(format!("unsupported `!` expression at byte {i}")),
                });
                i += 2;
            }
            b'-' | b'.' | b'0'..=b'9' => i = number(bytes, i, &mut out),
            b if b.is_ascii_alphabetic() || b == b'_' || b == b'$' => i = word(src, i, &mut out)?,
            b if b.is_ascii_whitespace() => i += 1,
            other => {
                return Err(format!(
                    "unsupported character {:?} at byte {i}",
                    other as char
                ));
            }
        }
    }
    Err("the object literal is not closed".to_owned())
}

/// Copies a double-quoted string (JSON-compatible escapes only); the index after it.
fn string(src: &str, start: usize, out: &mut String) -> Result<usize, String> {
    let bytes = src.as_bytes();
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                out.push_str(&src[start..=i]);
                return Ok(i + 1);
            }
            b'\\' => match bytes.get(i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' | b'u') => i += 2,
                _ => return Err(format!("unsupported string escape at byte {i}")),
            },
            _ => i += 1,
        }
    }
    Err("a string is not closed".to_owned())
}

/// Copies a number, adding the leading zero JSON needs (`.5` -> `0.5`); the index after it.
fn number(bytes: &[u8], start: usize, out: &mut String) -> usize {
    let mut i = start;
    if bytes[i] == b'-' {
        out.push('-');
        i += 1;
    }
    if bytes.get(i) == Some(&b'.') {
        out.push('0');
    }
    while let Some(&b) = bytes.get(i) {
        let exponent_sign = (b == b'-' || b == b'+') && matches!(bytes[i - 1], b'e' | b'E');
        if !(b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E') || exponent_sign) {
            break;
        }
        out.push(b as char);
        i += 1;
    }
    i
}

/// An identifier: a key (followed by `:`, quoted) or `null`/`true`/`false`.
fn word(src: &str, start: usize, out: &mut String) -> Result<usize, String> {
    let bytes = src.as_bytes();
    let end = (start..bytes.len())
        .find(|&j| !(bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_' || bytes[j] == b'$'))
        .unwrap_or(bytes.len());
    let word = &src[start..end];
    if bytes.get(end) == Some(&b':') {
        out.push('"');
        out.push_str(word);
        out.push('"');
    } else if matches!(word, "null" | "true" | "false") {
        out.push_str(word);
    } else {
        return Err(format!("unsupported value `{word}` at byte {start}"));
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minified_object_literal_becomes_the_same_json() {
        let js = r#"x;a.exports={modelTopology:{a:[1,-2,.5,-.25,9e-7,1E+3],b:!0,c:!1,d:null,"e f":"g\"h"}},{}]"#;

        let json = model_json(js).unwrap();

        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"modelTopology": {"a": [1, -2, 0.5, -0.25, 9e-7, 1000.0],
                "b": true, "c": false, "d": null, "e f": "g\"h"}})
        );
    }

    #[test]
    fn javascript_outside_the_minifier_subset_is_refused() {
        for js in [
            "a.exports={a:foo}",
            "a.exports={a:'single'}",
            "a.exports={a:\"\\x41\"}",
            "a.exports={a:!2}",
            "a.exports={a:[1,2}",
            "a.exports={a:1",
            "module.exports = 3",
        ] {
            assert!(model_json(js).is_err(), "{js} was accepted");
        }
    }

    #[test]
    fn a_weight_bundle_yields_its_base64_bytes() {
        let js = r#"!function(e){}({1:[function(e,a,n){a.exports="AAEC/w=="},{}]},{},[1])(1)});"#;

        assert_eq!(shard_bytes(js).unwrap(), vec![0, 1, 2, 255]);
        assert!(shard_bytes("a.exports=\"@@@\"").is_err());
        assert!(shard_bytes("a.exports={}").is_err());
    }
}
