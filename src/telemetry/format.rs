//! The Cloud Logging line format: `severity`, `message`, `time`, the trace keys and labels
//! Cloud Logging recognises, then every span and event field (gcp-contracts.md §10).

use serde_json::{Map, Value};
use std::fmt;
use time::format_description::well_known::Rfc3339;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Span field names that become Cloud Logging's trace keys rather than payload.
pub const TRACE_ID_FIELD: &str = "trace_id";
pub const SPAN_ID_FIELD: &str = "span_id";
pub const TRACE_SAMPLED_FIELD: &str = "trace_sampled";
/// Span fields copied into `logging.googleapis.com/labels` (dots become underscores).
const LABEL_FIELDS: [&str; 4] = ["ce.id", "ce.type", "ce.source", "route"];

/// Formats events as Cloud Logging structured JSON lines.
pub struct CloudLoggingFormat {
    project_id: String,
}

impl CloudLoggingFormat {
    pub fn new(project_id: &str) -> Self {
        Self {
            project_id: project_id.to_owned(),
        }
    }

    fn severity(level: &Level) -> &'static str {
        match *level {
            Level::ERROR => "ERROR",
            Level::WARN => "WARNING",
            Level::INFO => "INFO",
            _ => "DEBUG",
        }
    }
}

impl<S, N> FormatEvent<S, N> for CloudLoggingFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = span_fields(ctx);
        let mut visitor = JsonVisitor(Map::new());
        event.record(&mut visitor);
        fields.extend(visitor.0);

        let mut line = Map::new();
        let level = event.metadata().level();
        line.insert("severity".into(), Self::severity(level).into());
        let message = fields
            .remove("message")
            .unwrap_or(Value::String(String::new()));
        line.insert("message".into(), message);
        let now = time::OffsetDateTime::now_utc();
        line.insert(
            "time".into(),
            now.format(&Rfc3339).unwrap_or_default().into(),
        );
        line.insert("target".into(), event.metadata().target().into());

        self.move_trace_keys(&mut fields, &mut line);
        let labels: Map<String, Value> = LABEL_FIELDS
            .iter()
            .filter_map(|name| {
                let value = fields.get(*name)?;
                let text = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned);
                Some((name.replace('.', "_"), Value::String(text)))
            })
            .collect();
        if !labels.is_empty() {
            line.insert("logging.googleapis.com/labels".into(), labels.into());
        }
        for (key, value) in fields {
            line.entry(key).or_insert(value);
        }
        let text = serde_json::to_string(&Value::Object(line)).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

impl CloudLoggingFormat {
    /// Moves the trace fields into the keys Cloud Logging correlates on (gcp-contracts.md §10).
    fn move_trace_keys(&self, fields: &mut Map<String, Value>, line: &mut Map<String, Value>) {
        if let Some(Value::String(trace_id)) = fields.remove(TRACE_ID_FIELD) {
            let trace = if self.project_id.is_empty() {
                trace_id
            } else {
                format!("projects/{}/traces/{trace_id}", self.project_id)
            };
            line.insert("logging.googleapis.com/trace".into(), trace.into());
        }
        if let Some(span_id) = fields.remove(SPAN_ID_FIELD) {
            line.insert("logging.googleapis.com/spanId".into(), span_id);
        }
        if let Some(sampled) = fields.remove(TRACE_SAMPLED_FIELD) {
            line.insert("logging.googleapis.com/trace_sampled".into(), sampled);
        }
    }
}

/// The fields of every enclosing span, outermost first (inner spans win on a clash).
fn span_fields<S, N>(ctx: &FmtContext<'_, S, N>) -> Map<String, Value>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    let mut fields = Map::new();
    if let Some(scope) = ctx.event_scope() {
        for span in scope.from_root() {
            let extensions = span.extensions();
            if let Some(stored) = extensions.get::<FormattedFields<N>>()
                && let Ok(Value::Object(map)) = serde_json::from_str::<Value>(stored)
            {
                fields.extend(map);
            }
        }
    }
    fields
}

struct JsonVisitor(Map<String, Value>);

impl Visit for JsonVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .insert(field.name().into(), format!("{value:#}").into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}
