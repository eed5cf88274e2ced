//! The layer table of ARCHITECTURE.md, enforced: every `crate::<module>` a source file of
//! `src/` names (in `use` lines and in paths) must be in a lower layer than the file's own
//! module, or one of the few same-layer arrows the table lists. Test code (`tests.rs`,
//! `*_tests.rs`, `tests_*.rs`, `tests/` folders, `#[cfg(test)] mod tests { .. }` blocks)
//! may reach anywhere and is not read.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Top-level modules by layer, highest first (ARCHITECTURE.md "Layers and arrows").
const LAYERS: [(&str, &[&str]); 14] = [
    ("entry", &["main", "cli"]),
    ("commands", &["commands"]),
    ("jobs", &["process", "backfill", "dead_letters"]),
    ("startup", &["startup"]),
    ("http", &["router", "console"]),
    ("dispatch", &["dispatch"]),
    ("routes' logic", &["handlers"]),
    ("state", &["state"]),
    ("services", &["error", "admission", "metrics"]),
    ("backends", &["backends"]),
    ("model", &["moderation_model"]),
    ("settings", &["telemetry", "config"]),
    ("registry", &["routes"]),
    (
        "foundations",
        &[
            "domain",
            "events",
            "cloudevent",
            "imaging",
            "memory",
            "cache_dir",
        ],
    ),
];

/// Arrows inside one layer that the table allows (from, to).
const SAME_LAYER: [(&str, &str); 6] = [
    // The router mounts the console; the console's upload is the upload route's handler.
    ("router", "console"),
    ("console", "router"),
    ("telemetry", "config"),
    ("domain", "events"),
    ("events", "domain"),
    ("events", "cloudevent"),
];

/// (layer index, layer name) of a top-level module; 0 is the top.
fn layer_of(module: &str) -> Option<(usize, &'static str)> {
    LAYERS
        .iter()
        .enumerate()
        .find(|(_, (_, modules))| modules.contains(&module))
        .map(|(i, (name, _))| (i, *name))
}

fn is_test_file(relative: &Path) -> bool {
    let name = relative
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name == "tests.rs"
        || name.ends_with("_tests.rs")
        || name.starts_with("tests_")
        || name == "test_support.rs"
        || name == "fuzz_properties.rs"
        || relative.components().any(|c| c.as_os_str() == "tests")
}

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`src/router/ingress.rs` → `router`).
fn module_of(relative: &Path) -> String {
    let first = relative.components().next().unwrap().as_os_str();
    first.to_str().unwrap().trim_end_matches(".rs").to_owned()
}

/// Every top-level module named as `crate::x` or inside `crate::{x, y::..}` in code lines.
fn named_modules(code: &str) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                named.extend(group_heads(group));
            } else {
                named.insert(identifier(rest));
            }
        }
    }
    named.retain(|m| !m.is_empty());
    named
}

/// The first identifier of each item of a `{a, b::{..}, c}` group (up to its `}`).
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = vec![identifier(group.trim_start())];
    let mut depth = 1;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 1 => break,
            '}' => depth -= 1,
            ',' if depth == 1 => heads.push(identifier(group[i + 1..].trim_start())),
            _ => {}
        }
    }
    heads
}

fn identifier(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The code of a file without its unit-test module.
fn code_without_tests(text: &str) -> &str {
    match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => &text[..at],
        None => text,
    }
}

/// Every arrow of `src/` the table forbids, as sentences.
fn forbidden_arrows(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    source_files(src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    for file in files {
        let relative = file.strip_prefix(src).unwrap().to_owned();
        if is_test_file(&relative) || relative == Path::new("lib.rs") {
            continue;
        }
        let from = module_of(&relative);
        let Some((from_layer, from_name)) = layer_of(&from) else {
            problems.push(format!(
                "src/{} is in module `{from}`, which no layer of the table holds",
                relative.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for to in named_modules(code_without_tests(&text)) {
            if to == from || to == "self" || to == "super" {
                continue;
            }
            let Some((to_layer, to_name)) = layer_of(&to) else {
                problems.push(format!(
                    "src/{} uses crate::{to}, which no layer of the table holds",
                    relative.display()
                ));
                continue;
            };
            let allowed = to_layer > from_layer
                || (to_layer == from_layer && SAME_LAYER.contains(&(from.as_str(), to.as_str())));
            if !allowed {
                problems.push(format!(
                    "src/{} uses crate::{to}: `{from}` (layer {from_name}) must not depend on \
                     `{to}` (layer {to_name}); arrows point down (ARCHITECTURE.md)",
                    relative.display()
                ));
            }
        }
    }
    problems
}

#[test]
fn every_arrow_between_modules_points_down_the_layer_table() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");

    let problems = forbidden_arrows(&src);

    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn an_upward_import_is_found_in_any_form_of_use() {
    let code = "use crate::{config::Settings, router::respond};\nfn f() { crate::cli::run(); }\n\
                // crate::startup is only named in a comment\n";

    let named = named_modules(code);

    assert_eq!(
        named,
        BTreeSet::from(["cli".to_owned(), "config".to_owned(), "router".to_owned()])
    );
}
