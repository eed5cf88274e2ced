//! Bucket and object names as the local store accepts them, and their place on disk. Every
//! path under `data/buckets/` is built here, after refusing anything that could escape the
//! bucket folder (`..`, absolute paths, NUL, backslashes, Windows drive letters).

use crate::backends::{BackendError, BackendResult};
use std::path::{Path, PathBuf};

/// Cloud Storage's own limit on object name length.
const MAX_NAME_BYTES: usize = 1024;
/// The longest file name common file systems hold (ext4, XFS, btrfs, tmpfs: `NAME_MAX`).
/// Each `/`-separated segment of an object name becomes one file or folder name.
const MAX_SEGMENT_BYTES: usize = 255;
/// Prefix of the temp files a write goes through; never a valid object name segment.
pub(crate) const TEMP_PREFIX: &str = ".ip-tmp-";

/// Checks a bucket name: Cloud Storage's characters (lower-case letters, digits, `-`, `_`, `.`),
/// 3 to 222 bytes, starting and ending with a letter or digit.
pub(crate) fn check_bucket(bucket: &str) -> BackendResult<()> {
    let ok_chars = bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
    let ok_ends = bucket
        .bytes()
        .next()
        .zip(bucket.bytes().last())
        .is_some_and(|(a, z)| a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric());
    if ok_chars && ok_ends && (3..=222).contains(&bucket.len()) && !bucket.contains("..") {
        Ok(())
    } else {
        Err(BackendError::Invalid(format!(
            "bucket name {bucket:?} is not valid: use 3-222 lower-case letters, digits, '-', '_' \
             or '.', starting and ending with a letter or digit"
        )))
    }
}

/// Checks an object name: anything Cloud Storage allows that still maps to a file inside the
/// bucket folder. The reason names the offending part, for the operator.
pub(crate) fn check_object_name(name: &str) -> BackendResult<()> {
    let refuse = |why: &str| {
        Err(BackendError::Invalid(format!(
            "object name {name:?} is refused by the local store: {why}"
        )))
    };
    if name.is_empty() {
        return refuse("it is empty");
    }
    if name.len() > MAX_NAME_BYTES {
        return refuse("it is longer than 1024 bytes");
    }
    if name.contains('\0') {
        return refuse("it contains a NUL byte");
    }
    if name.chars().any(char::is_control) {
        return refuse("it contains a control character (CR, LF, ...)");
    }
    if name.contains('\\') {
        return refuse("it contains a backslash, which is a path separator on Windows");
    }
    if name.starts_with('/') {
        return refuse("it is an absolute path (starts with '/')");
    }
    let bytes = name.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return refuse("it starts with a Windows drive letter");
    }
    for segment in name.split('/') {
        match segment {
            "" => return refuse("it has an empty path segment ('//' or a trailing '/')"),
            "." | ".." => return refuse("it has a '.' or '..' path segment"),
            s if s.starts_with(TEMP_PREFIX) => {
                return refuse("a path segment starts with the store's temp-file prefix");
            }
            s if s.len() > MAX_SEGMENT_BYTES => {
                return refuse(
                    "a path segment is longer than 255 bytes, the file system's limit \
                     for one file or folder name",
                );
            }
            _ => {}
        }
    }
    Ok(())
}

/// The folder of a bucket under the data dir.
pub(crate) fn bucket_dir(data_dir: &Path, bucket: &str) -> PathBuf {
    data_dir.join("buckets").join(bucket)
}

/// The file of an object; only call after both checks passed.
pub(crate) fn object_path(data_dir: &Path, bucket: &str, name: &str) -> PathBuf {
    let mut path = bucket_dir(data_dir, bucket);
    path.extend(name.split('/'));
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_escape_the_bucket_folder_are_refused_with_a_reason() {
        let cases = [
            ("../etc/passwd", "'..'"),
            ("a/../../b", "'..'"),
            ("/etc/passwd", "absolute"),
            ("a\0b", "NUL"),
            ("a\\b", "backslash"),
            ("C:evil", "drive letter"),
            ("c:/windows", "drive letter"),
            ("a//b", "empty path segment"),
            ("", "empty"),
            ("a/./b", "'.'"),
            ("line\nbreak", "control character"),
        ];
        for (name, reason) in cases {
            let error = check_object_name(name).unwrap_err();

            assert!(
                matches!(error, BackendError::Invalid(_)),
                "{name:?} gave {error:?}"
            );
            assert!(error.to_string().contains(reason), "{name:?}: {error}");
        }
    }

    #[test]
    fn ordinary_names_with_folders_spaces_and_unicode_are_accepted() {
        for name in [
            "photo.jpg",
            "incoming/a b.png",
            "ünï/cödé 😀.webp",
            "a..b",
            "ab:c",
        ] {
            assert!(check_object_name(name).is_ok(), "{name:?}");
        }
    }

    #[test]
    fn bucket_names_follow_cloud_storage_rules() {
        assert!(check_bucket("uploads").is_ok());
        assert!(check_bucket("my-bucket.v2").is_ok());
        for bad in ["", "ab", "Uploads", "../x", "a/b", "-ab", "a..b"] {
            assert!(check_bucket(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_object_path_stays_inside_its_bucket_folder() {
        let path = object_path(Path::new("/data"), "uploads", "a/b/c.jpg");

        assert_eq!(path, Path::new("/data/buckets/uploads/a/b/c.jpg"));
    }
}
