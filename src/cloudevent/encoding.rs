//! Header-value encoding for binary-mode CloudEvents (gcp-contracts.md §1.3): undo an
//! optional RFC 7230 quoted-string, then exactly one round of percent-decoding, then
//! insist on UTF-8. Owns only the byte-level rules; it must not know attribute names.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// What the CloudEvents 1.0.2 HTTP binding says a sender MUST percent-encode: space, `"`,
/// `%` and everything outside U+0021..U+007E (non-ASCII is always encoded by
/// `utf8_percent_encode`; CONTROLS covers C0 and DEL).
const MUST_ENCODE: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'%');

/// Why a header value could not be decoded; the caller adds the header name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DecodeFailure {
    /// A `%` not followed by two hex digits, at this byte offset of the raw value.
    BadEscape { offset: usize },
    /// The decoded bytes are not UTF-8 (for example the overlong `%C0%A0`).
    NotUtf8,
}

/// Encodes an attribute value for a `ce-*` header (upper-case hex, as the spec asks).
pub(crate) fn encode_header_value(value: &str) -> String {
    utf8_percent_encode(value, MUST_ENCODE).to_string()
}

/// Decodes a raw `ce-*` header value into the attribute's string.
pub(crate) fn decode_header_value(raw: &[u8]) -> Result<String, DecodeFailure> {
    let unquoted = unquote(raw);
    let bytes = percent_decode_strict(&unquoted)?;
    String::from_utf8(bytes).map_err(|_| DecodeFailure::NotUtf8)
}

/// Undoes RFC 7230 quoted-string escaping when the whole value is double-quoted; the
/// spec keeps accepting this for senders that quoted values before v1.0.2.
fn unquote(raw: &[u8]) -> Vec<u8> {
    let quoted = raw.len() >= 2 && raw.first() == Some(&b'"') && raw.last() == Some(&b'"');
    if !quoted {
        return raw.to_vec();
    }
    let inner = &raw[1..raw.len() - 1];
    let mut out = Vec::with_capacity(inner.len());
    let mut bytes = inner.iter();
    while let Some(&b) = bytes.next() {
        if b == b'\\' {
            // A quoted-pair: the backslash only protects the next byte.
            if let Some(&next) = bytes.next() {
                out.push(next);
            }
        } else {
            out.push(b);
        }
    }
    out
}

/// One round of percent-decoding that refuses malformed escapes instead of passing them
/// through (the `percent-encoding` crate is lenient, which would hide sender bugs).
fn percent_decode_strict(input: &[u8]) -> Result<Vec<u8>, DecodeFailure> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b != b'%' {
            out.push(b);
            i += 1;
            continue;
        }
        let hi = input.get(i + 1).copied().and_then(hex_value);
        let lo = input.get(i + 2).copied().and_then(hex_value);
        match (hi, lo) {
            (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
            _ => return Err(DecodeFailure::BadEscape { offset: i }),
        }
        i += 3;
    }
    Ok(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn the_spec_example_encodes_to_upper_case_escapes_and_back() {
        // Arrange
        let value = "Euro € 😀";

        // Act
        let encoded = encode_header_value(value);
        let decoded = decode_header_value(encoded.as_bytes());

        // Assert
        assert_eq!(encoded, "Euro%20%E2%82%AC%20%F0%9F%98%80");
        assert_eq!(decoded.as_deref(), Ok(value));
    }

    #[test]
    fn lower_case_hex_and_needless_escapes_are_accepted() {
        let decoded = decode_header_value(b"caf%c3%a9%2Fx");

        assert_eq!(decoded.as_deref(), Ok("café/x"));
    }

    #[test]
    fn only_one_round_of_percent_decoding_is_applied() {
        let decoded = decode_header_value(b"100%2525");

        assert_eq!(decoded.as_deref(), Ok("100%25"));
    }

    #[test]
    fn an_escape_without_two_hex_digits_is_refused_with_its_offset() {
        assert_eq!(
            decode_header_value(b"ab%zz"),
            Err(DecodeFailure::BadEscape { offset: 2 })
        );
        assert_eq!(
            decode_header_value(b"ab%4"),
            Err(DecodeFailure::BadEscape { offset: 2 })
        );
    }

    #[test]
    fn an_overlong_utf8_sequence_is_refused() {
        assert_eq!(
            decode_header_value(b"a%C0%A0b"),
            Err(DecodeFailure::NotUtf8)
        );
    }

    #[test]
    fn a_quoted_string_is_unquoted_before_percent_decoding() {
        let decoded = decode_header_value(br#""say \"hi\"%21""#);

        assert_eq!(decoded.as_deref(), Ok(r#"say "hi"!"#));
    }

    #[test]
    fn characters_that_need_no_escape_are_sent_as_they_are() {
        let encoded = encode_header_value("//storage.googleapis.com/projects/_/buckets/b~1");

        assert_eq!(encoded, "//storage.googleapis.com/projects/_/buckets/b~1");
    }

    #[test]
    fn quote_percent_and_controls_are_escaped() {
        let encoded = encode_header_value("a\"b%c\td\u{7f}");

        assert_eq!(encoded, "a%22b%25c%09d%7F");
    }
}
