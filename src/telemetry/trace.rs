//! Trace context from request headers: W3C `traceparent` first, then Google's
//! `X-Cloud-Trace-Context` whose span id is decimal (gcp-contracts.md §0.9, §10).

use actix_web::http::header::HeaderMap;

/// A parsed trace context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lower-case hex digits.
    pub trace_id: String,
    /// 16 hex digits, as Cloud Logging's `spanId` wants.
    pub span_id: Option<String>,
    pub sampled: bool,
}

impl TraceContext {
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        header("traceparent")
            .and_then(Self::parse_traceparent)
            .or_else(|| header("x-cloud-trace-context").and_then(Self::parse_cloud_trace))
    }

    /// `00-<32 hex trace>-<16 hex span>-<2 hex flags>`.
    pub fn parse_traceparent(value: &str) -> Option<Self> {
        let mut parts = value.trim().split('-');
        let (version, trace, span, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let is_hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
        let all_zero = |s: &str| s.bytes().all(|b| b == b'0');
        if !is_hex(version, 2) || version == "ff" || !is_hex(trace, 32) || !is_hex(span, 16) {
            return None;
        }
        if all_zero(trace) || all_zero(span) || !is_hex(flags, 2) {
            return None;
        }
        let flags = u8::from_str_radix(flags, 16).ok()?;
        Some(Self {
            trace_id: trace.to_ascii_lowercase(),
            span_id: Some(span.to_ascii_lowercase()),
            sampled: flags & 1 == 1,
        })
    }

    /// `TRACE_ID/SPAN_ID;o=OPTIONS` with a decimal span id; span and options optional.
    pub fn parse_cloud_trace(value: &str) -> Option<Self> {
        let (ids, options) = match value.trim().split_once(';') {
            Some((ids, options)) => (ids, Some(options)),
            None => (value.trim(), None),
        };
        let (trace, span) = match ids.split_once('/') {
            Some((t, s)) => (t, Some(s)),
            None => (ids, None),
        };
        if trace.len() != 32 || !trace.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let span_id = span
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|s| *s != 0)
            .map(|s| format!("{s:016x}"));
        Some(Self {
            trace_id: trace.to_ascii_lowercase(),
            span_id,
            sampled: options.is_some_and(|o| o.trim() == "o=1"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_gives_trace_span_and_sampled_flag() {
        let t = TraceContext::parse_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .unwrap();
        assert_eq!(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert!(t.sampled);
    }

    #[test]
    fn invalid_traceparents_are_ignored() {
        for bad in [
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-short-00f067aa0ba902b7-01",
            "garbage",
        ] {
            assert_eq!(TraceContext::parse_traceparent(bad), None, "{bad}");
        }
    }

    #[test]
    fn cloud_trace_context_span_id_is_converted_from_decimal_to_hex() {
        let t = TraceContext::parse_cloud_trace("105445aa7843bc8bf206b12000100000/1;o=1").unwrap();
        assert_eq!(t.span_id.as_deref(), Some("0000000000000001"));
        assert!(t.sampled);

        let big = TraceContext::parse_cloud_trace(
            "4bf92f3577b34da6a3ce929d0e0e4736/67667974448284343;o=0",
        )
        .unwrap();
        assert_eq!(big.span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert!(!big.sampled);
    }

    #[test]
    fn cloud_trace_context_without_span_or_with_overflowing_span_keeps_the_trace() {
        let t = TraceContext::parse_cloud_trace("105445aa7843bc8bf206b12000100000").unwrap();
        assert_eq!(t.span_id, None);
        let overflow = TraceContext::parse_cloud_trace(
            "105445aa7843bc8bf206b12000100000/18446744073709551616",
        )
        .unwrap();
        assert_eq!(overflow.span_id, None);
    }
}
