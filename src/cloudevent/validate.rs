//! The attribute rules of CloudEvents 1.0.2 that binary and structured mode share
//! (gcp-contracts.md §1.3; CE-SPEC v1.0.2 spec.md "Type System", "Context Attributes"):
//! required attributes non-empty, `specversion` 1.0, optional attributes non-empty when
//! present, `source` a URI-reference, `dataschema` an absolute URI, `time` RFC 3339,
//! `datacontenttype` RFC 2046, extension names lower-case alphanumeric.
//!
//! Owns only syntax checks on attribute strings. Must not know HTTP or any Google payload.
//!
//! Leniency kept on purpose (each a decision, not an accident):
//! - Extension names longer than 20 characters are accepted: the spec says SHOULD, and
//!   refusing an event over a naming preference would lose it.
//! - `time` may use a lower-case `t`/`z`: RFC 3339 §5.6 allows it explicitly. A space
//!   instead of `T` (which §5.6 lets applications choose) is refused: the CloudEvents
//!   conformance cases treat anything but the grammar as invalid.
//! - Media types are checked against the RFC 2045/2046 grammar, not a list of registered
//!   types: new types are registered all the time, and HTTP does the same.

use super::{CloudEvent, CloudEventError, SPEC_VERSION};

/// Checks every attribute of a parsed event; the error names the attribute.
pub(super) fn check(event: &CloudEvent) -> Result<(), CloudEventError> {
    let required: [(&'static str, &str); 4] = [
        ("id", &event.id),
        ("source", &event.source),
        ("specversion", &event.specversion),
        ("type", &event.ty),
    ];
    for (name, value) in required {
        if value.is_empty() {
            return Err(CloudEventError::EmptyAttribute { name });
        }
    }
    if event.specversion != SPEC_VERSION {
        return Err(CloudEventError::UnsupportedSpecVersion {
            found: event.specversion.clone(),
        });
    }
    if !is_uri_reference(&event.source) {
        return Err(invalid(
            "source",
            &event.source,
            "a URI-reference (RFC 3986)",
        ));
    }
    let optional: [(&'static str, &Option<String>); 4] = [
        ("subject", &event.subject),
        ("time", &event.time),
        ("datacontenttype", &event.datacontenttype),
        ("dataschema", &event.dataschema),
    ];
    for (name, value) in optional {
        if value.as_deref() == Some("") {
            return Err(CloudEventError::EmptyAttribute { name });
        }
    }
    if let Some(time) = event.time.as_deref().filter(|t| !is_rfc3339(t)) {
        return Err(invalid("time", time, "an RFC 3339 timestamp"));
    }
    if let Some(ct) = event
        .datacontenttype
        .as_deref()
        .filter(|c| !is_media_type(c))
    {
        return Err(invalid("datacontenttype", ct, "an RFC 2046 media type"));
    }
    if let Some(schema) = event.dataschema.as_deref().filter(|s| !is_absolute_uri(s)) {
        return Err(invalid("dataschema", schema, "an absolute URI (RFC 3986)"));
    }
    if let Some(name) = event.extensions.keys().find(|n| !is_extension_name(n)) {
        return Err(CloudEventError::InvalidExtensionName { name: name.clone() });
    }
    Ok(())
}

fn invalid(name: &'static str, value: &str, expected: &'static str) -> CloudEventError {
    CloudEventError::InvalidAttribute {
        name,
        value: value.to_owned(),
        expected,
    }
}

/// Lower-case ASCII letters and digits, at least one (CE-SPEC v1.0.2 "Attribute Naming
/// Convention").
pub(super) fn is_extension_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// RFC 3339 §5.6 `date-time`, with the calendar and offset ranges checked.
pub(crate) fn is_rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    let Some([year, month, day, hour, minute, second]) = date_time_fields(b) else {
        return false;
    };
    let date_ok = (1..=12).contains(&month) && (1..=days_in_month(year, month)).contains(&day);
    if !date_ok || hour > 23 || minute > 59 || second > 60 {
        return false;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return false;
        }
        i += 1 + digits;
    }
    match b.get(i) {
        Some(b'Z' | b'z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            b.get(i + 3) == Some(&b':')
                && i + 6 == b.len()
                && number(b, i + 1, 2).is_some_and(|h| h <= 23)
                && number(b, i + 4, 2).is_some_and(|m| m <= 59)
        }
        _ => false,
    }
}

/// `YYYY-MM-DDTHH:MM:SS` at the start of `b`, as numbers.
fn date_time_fields(b: &[u8]) -> Option<[u32; 6]> {
    let separators = [(4, b"-"), (7, b"-"), (10, b"T"), (13, b":"), (16, b":")];
    let separators_ok = separators
        .iter()
        .all(|&(i, sep)| b.get(i).is_some_and(|c| c.eq_ignore_ascii_case(&sep[0])));
    if !separators_ok {
        return None;
    }
    Some([
        number(b, 0, 4)?,
        number(b, 5, 2)?,
        number(b, 8, 2)?,
        number(b, 11, 2)?,
        number(b, 14, 2)?,
        number(b, 17, 2)?,
    ])
}

/// Exactly `len` ASCII digits at `from`.
fn number(b: &[u8], from: usize, len: usize) -> Option<u32> {
    let digits = b.get(from..from + len)?;
    digits.iter().try_fold(0u32, |acc, d| {
        d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
    })
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// RFC 2045 §5.1 `type "/" subtype *(";" parameter)`, the grammar RFC 2046 uses, with
/// optional whitespace around `;` and `=`-less parameters refused.
pub(crate) fn is_media_type(text: &str) -> bool {
    let mut rest = text.trim();
    let Some((ty, after)) = rest.split_once('/') else {
        return false;
    };
    let subtype_len = after.find([';', ' ', '\t']).unwrap_or(after.len());
    if !is_token(ty) || !is_token(&after[..subtype_len]) {
        return false;
    }
    rest = after[subtype_len..].trim_start();
    while let Some(param) = rest.strip_prefix(';') {
        let param = param.trim_start();
        let Some((attribute, value)) = param.split_once('=') else {
            return false;
        };
        if !is_token(attribute) {
            return false;
        }
        let value_len = match value.strip_prefix('"') {
            Some(quoted) => match quoted_string_len(quoted) {
                Some(len) => len + 1,
                None => return false,
            },
            None => value.find([';', ' ', '\t']).unwrap_or(value.len()),
        };
        if !value.starts_with('"') && !is_token(&value[..value_len]) {
            return false;
        }
        rest = value[value_len..].trim_start();
    }
    rest.is_empty()
}

/// Length of a quoted-string's body plus its closing quote, `None` if unterminated.
fn quoted_string_len(body: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// RFC 2045 `token`: printable ASCII except space and tspecials.
fn is_token(text: &str) -> bool {
    const TSPECIALS: &[u8] = b"()<>@,;:\\\"/[]?=";
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && !TSPECIALS.contains(&b))
}

/// RFC 3986 `URI-reference` by its character set: unreserved, reserved and `%XX` only
/// (the grammar's structure is not checked: every string of these characters that
/// parses as a relative reference is one).
pub(crate) fn is_uri_reference(text: &str) -> bool {
    const ALLOWED: &[u8] = b"-._~:/?#[]@!$&'()*+,;=";
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = |j: usize| b.get(j).is_some_and(u8::is_ascii_hexdigit);
                if !(hex(i + 1) && hex(i + 2)) {
                    return false;
                }
                i += 3;
            }
            c if c.is_ascii_alphanumeric() || ALLOWED.contains(&c) => i += 1,
            _ => return false,
        }
    }
    true
}

/// RFC 3986 `absolute-URI` / `URI`: a scheme, `:`, and URI characters.
pub(crate) fn is_absolute_uri(text: &str) -> bool {
    let Some((scheme, _)) = text.split_once(':') else {
        return false;
    };
    let mut chars = scheme.bytes();
    let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || b"+-.".contains(&c));
    scheme_ok && is_uri_reference(text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn rfc3339_timestamps_with_fractions_and_offsets_are_accepted() {
        for good in [
            "2018-04-05T17:31:00Z",
            "2018-04-05T17:31:00.000000000Z",
            "2018-04-05T18:31:00+01:00",
            "2018-04-05T16:31:00-01:00",
            "2025-05-06t15:14:15.917z",
            "2024-02-29T23:59:60Z",
        ] {
            assert!(is_rfc3339(good), "{good}");
        }
    }

    #[test]
    fn timestamps_outside_the_rfc3339_grammar_or_calendar_are_refused() {
        for bad in [
            "lunchtime",
            "2018-04-05T18:31Z",
            "2018-04-05T18:31:00X",
            "2018-04-05T18:31:00+25:00",
            "2018-04-05T18:31:00+xx:00",
            "2018-04-05T18:31:00+05",
            "2018-04-05 18:31:00Z",
            "2018-04-05T18:31:00",
            "2018-04-05T18:31:00.Z",
            "2023-02-29T00:00:00Z",
            "2018-13-05T18:31:00Z",
            "2018-04-05T24:00:00Z",
            "2018-04-05T18:31:00+01:00 ",
            "2018-04-05T18:31:00+01:60",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }

    #[test]
    fn media_types_follow_the_rfc2045_grammar() {
        for good in [
            "text/plain",
            "application/json; charset=utf-8",
            "application/cloudevents+json;charset=UTF-8",
            "multipart/form-data; boundary=\"a b;c\"",
            "application/vnd.api+json ; q=1 ; x=y",
        ] {
            assert!(is_media_type(good), "{good}");
        }
        for bad in [
            "xyz",
            "",
            "text/",
            "/plain",
            "text/plain;",
            "text/plain; charset",
            "text/plain; charset=\"utf-8",
            "text plain/x",
            "text/plain extra",
            "te(x)t/plain",
        ] {
            assert!(!is_media_type(bad), "{bad}");
        }
    }

    #[test]
    fn sources_are_uri_references_and_dataschemas_absolute_uris() {
        assert!(is_uri_reference("#fragment"));
        assert!(is_uri_reference(
            "//firestore.googleapis.com/projects/p/databases/(default)"
        ));
        assert!(is_uri_reference("image-pipeline/resize"));
        assert!(!is_uri_reference("has space"));
        assert!(!is_uri_reference("bad%zzescape"));
        assert!(!is_uri_reference("ünïcode"));
        assert!(is_absolute_uri("https://cloudevents.io/dataschema"));
        assert!(is_absolute_uri("urn:example:schema"));
        assert!(!is_absolute_uri("/relative/schema"));
        assert!(!is_absolute_uri("1http://x"));
    }

    #[test]
    fn extension_names_are_lower_case_letters_and_digits() {
        assert!(is_extension_name("extinteger"));
        assert!(is_extension_name("a1"));
        assert!(is_extension_name("averyveryverylongextensionname"));
        for bad in ["MyExtension", "my.extension", "my-ext", "my_ext", ""] {
            assert!(!is_extension_name(bad), "{bad}");
        }
    }
}
