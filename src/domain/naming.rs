//! Where derived objects live, by name: `<resize prefix>/<size>/<name>`,
//! `<thumbnail prefix>/<name>`, `<quarantine prefix>/<name>`, and which names are under a
//! derived prefix (the loop guard). Pure string rules; the prefixes come from the settings.

/// A configured prefix without leading or trailing slashes.
fn clean(prefix: &str) -> &str {
    prefix.trim_matches('/')
}

/// The resized output of one size: `<prefix>/<size>/<source name>`.
pub fn variant_name(prefix: &str, size: &str, source_name: &str) -> String {
    format!("{}/{size}/{source_name}", clean(prefix))
}

/// The thumbnail: `<prefix>/<source name>`.
pub fn thumbnail_name(prefix: &str, source_name: &str) -> String {
    format!("{}/{source_name}", clean(prefix))
}

/// Where quarantine moves an object: `<prefix>/<name>`.
pub fn quarantine_name(prefix: &str, name: &str) -> String {
    format!("{}/{name}", clean(prefix))
}

/// Where quarantine moves an object when `<prefix>/<name>` already holds other bytes:
/// `<prefix>/generation-<g>/<name>` (unique per object generation).
pub fn quarantine_name_for_generation(prefix: &str, name: &str, generation: i64) -> String {
    format!("{}/generation-{generation}/{name}", clean(prefix))
}

/// The first of `prefixes` (as `prefix/`) that `name` lives under, if any.
pub fn derived_prefix_of(prefixes: &[&str], name: &str) -> Option<String> {
    prefixes
        .iter()
        .map(|p| format!("{}/", clean(p)))
        .find(|p| name.starts_with(p.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_join_the_prefix_without_doubled_slashes() {
        assert_eq!(
            variant_name("/resized/", "large", "a/b.jpg"),
            "resized/large/a/b.jpg"
        );
        assert_eq!(thumbnail_name("thumbnails", "b.jpg"), "thumbnails/b.jpg");
        assert_eq!(quarantine_name("quarantine/", "x.png"), "quarantine/x.png");
    }

    #[test]
    fn a_name_under_a_derived_prefix_is_found_and_a_lookalike_is_not() {
        let prefixes = ["resized", "thumbnails/"];

        assert_eq!(
            derived_prefix_of(&prefixes, "thumbnails/a.jpg").as_deref(),
            Some("thumbnails/")
        );
        assert_eq!(derived_prefix_of(&prefixes, "resizedcat.jpg"), None);
    }
}
