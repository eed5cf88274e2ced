//! What `process` was asked to run on: files as given, and folders walked recursively for
//! images (by extension), hidden files and folders skipped, in name order. Each file gets
//! the object name it is uploaded under. Reads directory listings only, never file contents.

use std::path::{Path, PathBuf};

/// File extensions `process` picks up inside folders (a named file is always tried).
const IMAGE_EXTENSIONS: [&str; 9] = [
    "jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff", "avif",
];

/// One file to run, with its object name in the upload bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InputFile {
    pub(crate) path: PathBuf,
    /// The file name for a named file; `<folder>/<path inside it>` for a file found in a folder.
    pub(crate) name: String,
}

/// Expands folders into their images; files (and paths that do not exist) pass as they are,
/// so their checks report them. A folder without images, or one that cannot be read
/// completely, is passed on as itself (and reported).
pub(crate) fn expand(args: &[PathBuf]) -> Vec<InputFile> {
    let mut files = Vec::new();
    for arg in args {
        if arg.is_dir() {
            let root = arg.file_name().map(|n| n.to_string_lossy().into_owned());
            let mut found = Vec::new();
            // A folder with no images (or unreadable) is reported as itself.
            if walk(arg, &mut found).is_err() || found.is_empty() {
                files.push(named(arg));
                continue;
            }
            found.sort();
            files.extend(found.into_iter().map(|path| {
                let inside = path.strip_prefix(arg).unwrap_or(&path);
                let inside = inside.to_string_lossy().replace('\\', "/");
                let name = match &root {
                    Some(root) => format!("{root}/{inside}"),
                    None => inside,
                };
                InputFile { path, name }
            }));
        } else {
            files.push(named(arg));
        }
    }
    files
}

fn named(path: &Path) -> InputFile {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    InputFile {
        path: path.to_owned(),
        name,
    }
}

/// Collects the images under `dir`; symlinked folders are not followed (no cycles).
fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            walk(&path, found)?;
        } else if is_image_name(&path) && (kind.is_file() || path.is_file()) {
            found.push(path);
        }
    }
    Ok(())
}

fn is_image_name(path: &Path) -> bool {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"x").unwrap();
    }

    #[test]
    fn a_folder_yields_its_images_recursively_in_name_order_without_hidden_ones() {
        let dir = tempfile::tempdir().unwrap();
        let photos = dir.path().join("photos");
        for name in [
            "b.jpg",
            "a.PNG",
            "notes.txt",
            ".hidden.jpg",
            "sub/c.webp",
            ".cache/d.jpg",
            "sub/deeper/e.tiff",
        ] {
            touch(&photos.join(name));
        }

        let names: Vec<String> = expand(&[photos]).into_iter().map(|f| f.name).collect();

        assert_eq!(
            names,
            [
                "photos/a.PNG",
                "photos/b.jpg",
                "photos/sub/c.webp",
                "photos/sub/deeper/e.tiff"
            ]
        );
    }

    #[test]
    fn named_files_pass_as_given_even_without_an_image_extension() {
        let dir = tempfile::tempdir().unwrap();
        let notes = dir.path().join("notes.txt");
        touch(&notes);
        let missing = dir.path().join("missing.jpg");

        let files = expand(&[notes.clone(), missing.clone()]);

        assert_eq!(
            files,
            [
                InputFile {
                    path: notes,
                    name: "notes.txt".into()
                },
                InputFile {
                    path: missing,
                    name: "missing.jpg".into()
                }
            ]
        );
    }
}
