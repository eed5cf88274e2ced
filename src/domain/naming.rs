//! Where derived objects live, by name: `<resize prefix>/<size>/<name>`,
//! `<thumbnail prefix>/<name>`, `<quarantine prefix>/<name>`, and which names are under a
//! derived prefix (the loop guard). Pure string rules; the prefixes come from the settings.

/// A configured prefix without leading or trailing slashes.
fn clean(prefix: &str) -> &str {
    prefix.trim_matches('/')
}

/// The resized output of one size: `<prefix>/<size>/<source name>`; for a label from
/// [`format_label`] (a size in a further format) `<prefix>/<size>@<format>/<source
/// name>.<ext>`. Size labels never contain `@` (config validation), so the folder alone
/// says which size and format an object is, and no two (size, format, source) share a name.
pub fn variant_name(prefix: &str, label: &str, source_name: &str) -> String {
    match label.split_once('@') {
        Some((_, format)) => {
            let ext = extension_for(format);
            format!("{}/{label}/{source_name}{ext}", clean(prefix))
        }
        None => format!("{}/{label}/{source_name}", clean(prefix)),
    }
}

/// The target label of `size` in a format after the first: `<size>@<format>`.
pub fn format_label(size: &str, format: &str) -> String {
    format!("{size}@{format}")
}

/// The size a target label names (`large@webp` → `large`).
pub fn size_of_label(label: &str) -> &str {
    label.split_once('@').map_or(label, |(size, _)| size)
}

/// The file extension (with its dot) an output name in `format` ends with: `original` keeps
/// the source's name as it is.
fn extension_for(format: &str) -> &'static str {
    match format {
        "jpeg" => ".jpg",
        "png" => ".png",
        "webp" | "webp_lossless" => ".webp",
        "avif" => ".avif",
        _ => "",
    }
}

/// The thumbnail: `<prefix>/<source name>`.
pub fn thumbnail_name(prefix: &str, source_name: &str) -> String {
    format!("{}/{source_name}", clean(prefix))
}

/// The thumbnail of a target label: [`thumbnail_name`] for the first format; for a label
/// from [`format_label`] `<prefix>@<format>/<source name>.<ext>`. That folder lies outside
/// `<prefix>/`, where an upload called `thumbnail@webp/a.jpg.webp` would put its own
/// thumbnail: so no two uploads share a thumbnail name in any format.
pub fn thumbnail_variant_name(prefix: &str, label: &str, source_name: &str) -> String {
    match label.split_once('@') {
        Some((_, format)) => format!(
            "{}/{source_name}{}",
            thumbnail_format_prefix(prefix, format),
            extension_for(format)
        ),
        None => thumbnail_name(prefix, source_name),
    }
}

/// The prefix the thumbnail in a further `format` lives under: `<prefix>@<format>`.
pub fn thumbnail_format_prefix(prefix: &str, format: &str) -> String {
    format!("{}@{format}", clean(prefix))
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
    fn further_formats_get_a_folder_of_their_own_and_their_extension() {
        let label = format_label("large", "webp");

        assert_eq!(
            variant_name("resized", &label, "a/b.jpg"),
            "resized/large@webp/a/b.jpg.webp"
        );
        assert_eq!(
            variant_name("resized", "large@original", "b.jpg"),
            "resized/large@original/b.jpg"
        );
        assert_eq!(size_of_label(&label), "large");
        assert_eq!(size_of_label("large"), "large");
    }

    #[test]
    fn names_of_two_uploads_never_collide_across_formats() {
        // An upload named like another's further-format output still lands elsewhere.
        let webp_of_a = variant_name("resized", "large@webp", "a.jpg");
        let first_of_lookalike = variant_name("resized", "large", "a.jpg.webp");

        assert_ne!(webp_of_a, first_of_lookalike);
    }

    #[test]
    fn a_thumbnail_in_a_further_format_lives_beside_the_prefix_never_under_it() {
        let webp_of_a = thumbnail_variant_name("thumbnails/", "thumbnail@webp", "a.jpg");
        // An upload named like that folder still gets its thumbnail under the prefix.
        let lookalike =
            thumbnail_variant_name("thumbnails", "thumbnail", "thumbnail@webp/a.jpg.webp");

        assert_eq!(webp_of_a, "thumbnails@webp/a.jpg.webp");
        assert_eq!(
            thumbnail_variant_name("thumbnails", "thumbnail", "a.jpg"),
            "thumbnails/a.jpg"
        );
        assert_ne!(webp_of_a, lookalike);
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
