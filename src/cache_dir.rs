//! Where this project keeps what it downloads onto a machine (the moderation model, the
//! test tools that `.ci/` installs): `$XDG_CACHE_HOME/image-pipeline`, else
//! `~/.cache/image-pipeline`. Only the path; must not create or read anything.

use std::path::PathBuf;

/// `$XDG_CACHE_HOME/image-pipeline`, else `$HOME/.cache/image-pipeline`; `None` when neither
/// variable is set (an empty value counts as unset).
pub fn project_cache_dir() -> Option<PathBuf> {
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let base = set("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| set("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("image-pipeline"))
}
