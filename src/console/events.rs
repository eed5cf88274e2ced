//! Route runs from the journal as a table: an image's events, the queue's runs in flight.

use crate::metrics::journal::Entry;
use maud::{Markup, html};

/// A table of route runs, or `none` when there are none.
pub(crate) fn events_table(events: &[Entry], none: &str) -> Markup {
    if events.is_empty() {
        return html! { p { (none) } };
    }
    html! {
        table.events {
            thead { tr { th { "Started" } th { "Event" } th { "Route" } th { "Outcome" }
                         th { "ms" } th { "Detail" } } }
            tbody { @for e in events { (event_row(e)) } }
        }
    }
}

fn event_row(e: &Entry) -> Markup {
    let outcome = match e.outcome {
        Some(o) => o.as_str(),
        None => "in flight",
    };
    html! {
        tr {
            td { time { (e.at) } }
            td { (e.event_type) br; small { (e.event_id) } }
            td { (e.route) }
            td { span class={ "outcome " (outcome.replace(' ', "-")) } { (outcome) } }
            td { (e.elapsed_ms) }
            td.detail { (e.detail) }
        }
    }
}
