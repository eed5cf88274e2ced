//! The image page's "For a web page" section: what the record gives a frontend (issue 23)
//! as a person reads it: the placeholder's colour as a swatch beside its ThumbHash and
//! BlurHash, the content and perceptual hashes, and each format's `srcset`. Must not
//! compute any of it: it shows the record's fields as they are.

use crate::domain::{ImageRecord, Placeholder};
use maud::{Markup, html};

/// The section, or nothing when the record has none of these fields yet.
pub(super) fn section(record: &ImageRecord) -> Markup {
    let has_any = record.content_hash.is_some()
        || record.phash.is_some()
        || record.placeholder.is_some()
        || !record.srcset.is_empty();
    html! {
        @if has_any {
            section #web {
                h2 { "For a web page" }
                table.web-fields {
                    @if let Some(p) = &record.placeholder { (placeholder_rows("placeholder", p)) }
                    @if let Some(p) = &record.thumbnail_placeholder {
                        (placeholder_rows("thumbnail placeholder", p))
                    }
                    @if let Some(hash) = &record.content_hash {
                        tr { th { "content hash" } td { code { (hash) } } }
                    }
                    @if let Some(phash) = &record.phash {
                        tr { th { "perceptual hash (dHash)" } td { code { (phash) } } }
                    }
                    @for (format, srcset) in &record.srcset {
                        tr { th { "srcset " (format) } td { code { (srcset) } } }
                    }
                }
            }
        }
    }
}

/// A placeholder's colour as a swatch (an SVG fill: the page's CSP allows no inline
/// styles) and its two hashes.
fn placeholder_rows(label: &str, p: &Placeholder) -> Markup {
    html! {
        tr {
            th { (label) }
            td {
                svg.swatch width="48" height="24" role="img" aria-label={ "average colour " (p.color) } {
                    rect width="48" height="24" fill=(p.color) {}
                }
                " " code { (p.color) }
            }
        }
        tr { th { "ThumbHash" } td { code { (p.thumbhash) } } }
        tr { th { "BlurHash" } td { code { (p.blurhash) } } }
    }
}
