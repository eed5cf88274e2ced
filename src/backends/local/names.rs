//! Bucket and object names as the local store accepts them, and their place on disk. Every
//! path under `data/buckets/` is built here, after refusing anything that could escape the
//! bucket folder (`..`, absolute paths, NUL, backslashes, Windows drive letters).
//!
//! Object names are case-sensitive, but the data dir's file system may not be (macOS and
//! Windows by default; macOS also treats Unicode forms of a name as one): `Photo.jpg` and
//! `photo.jpg` would be one file but two rows (issue 22). So each name segment is written
//! to disk by [`disk_segment`], a pure function whose results no case-folding or Unicode
//! normalisation can merge: lower-case names stay as they are, everything else is
//! percent-encoded.

use crate::backends::{BackendError, BackendResult};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
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
    path.extend(name.split('/').map(disk_segment));
    path
}

/// Where data dirs made before [`disk_segment`] kept an object: its name as it is.
pub(crate) fn raw_object_path(data_dir: &Path, bucket: &str, name: &str) -> PathBuf {
    let mut path = bucket_dir(data_dir, bucket);
    path.extend(name.split('/'));
    path
}

/// Bytes a segment keeps on disk: none of them has another case, and every file system
/// (Windows included) allows them in a file name.
fn is_kept(byte: u8) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit() || b" -_.~!$&'()+,;=@[]{}#".contains(&byte)
}

/// Windows device names, which no file may be called (with any extension).
const DEVICE_NAMES: [&str; 22] = [
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// The file or folder name one segment of an object name gets on disk. Injective, and its
/// results are lower-case ASCII, so two segments never map to names a case-insensitive or
/// normalising file system takes for one: every byte but [`is_kept`] ones becomes `%xx`
/// (lower-case hex; `%` itself too), and so do a trailing `.` or space and the first letter
/// of a Windows device name (Windows drops or refuses those). When that is longer than a
/// file name may be, it is cut and ends in `%%` and the SHA-256 of the segment (`%%` occurs
/// in no other result).
pub(crate) fn disk_segment(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let stem = segment.split('.').next().unwrap_or_default();
    let device = DEVICE_NAMES.contains(&stem);
    let mut out = String::with_capacity(bytes.len());
    for (i, &byte) in bytes.iter().enumerate() {
        let last = i + 1 == bytes.len();
        let encode = !is_kept(byte) || (last && matches!(byte, b'.' | b' ')) || (device && i == 0);
        if encode {
            let _ = write!(out, "%{byte:02x}");
        } else {
            out.push(char::from(byte));
        }
    }
    if out.len() <= MAX_SEGMENT_BYTES {
        return out;
    }
    let digest: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut keep = MAX_SEGMENT_BYTES - 2 - digest.len();
    // Never cut inside a `%xx`.
    if let Some(escape) = out[keep.saturating_sub(2)..keep].find('%') {
        keep = keep - 2 + escape;
    }
    format!("{}%%{digest}", &out[..keep])
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

    /// How a case-insensitive, normalising file system (macOS, Windows) compares paths:
    /// full Unicode case folding, and precomposed vs decomposed `é` taken as one.
    fn as_a_case_insensitive_disk_sees_it(path: &Path) -> String {
        path.to_string_lossy()
            .replace("e\u{301}", "\u{e9}")
            .to_uppercase()
            .to_lowercase()
    }

    #[test]
    fn names_differing_only_in_case_or_unicode_form_never_share_a_file() {
        // Arrange: names Cloud Storage keeps apart, a decoy of an encoding included.
        let names = [
            "Photo.jpg",
            "photo.jpg",
            "PHOTO.JPG",
            "%50hoto.jpg",
            "Trips/x.jpg",
            "trips/x.jpg",
            "\u{c4}.png",
            "\u{e4}.png",
            "caf\u{e9}.jpg",
            "cafe\u{301}.jpg",
            "stra\u{df}e.jpg",
            "STRASSE.jpg",
            "a.",
            "a",
        ];

        // Act
        let seen: std::collections::HashSet<String> = names
            .iter()
            .map(|n| as_a_case_insensitive_disk_sees_it(&object_path(Path::new("/d"), "b", n)))
            .collect();

        // Assert
        assert_eq!(seen.len(), names.len(), "{seen:?}");
    }

    #[test]
    fn lower_case_names_keep_their_readable_place_on_disk() {
        let path = object_path(Path::new("/d"), "uploads", "in/a b (1).jpg");

        assert_eq!(path, Path::new("/d/buckets/uploads/in/a b (1).jpg"));
        assert_eq!(disk_segment("IMG_1.JPG"), "%49%4d%47_1.%4a%50%47");
        assert_eq!(disk_segment("100%"), "100%25");
        assert_eq!(disk_segment("con.jpg"), "%63on.jpg");
        assert_eq!(disk_segment("ab:c"), "ab%3ac");
        assert_eq!(disk_segment("a."), "a%2e");
    }

    #[test]
    fn a_segment_whose_encoding_is_too_long_still_fits_one_file_name_and_stays_apart() {
        let upper = "A".repeat(200);
        let other = format!("{}B", "A".repeat(199));
        let unicode = "\u{e9}".repeat(127);

        let disk: Vec<String> = [&upper, &other, &unicode, &upper.to_lowercase()]
            .iter()
            .map(|s| disk_segment(s))
            .collect();

        for d in &disk {
            assert!(d.len() <= MAX_SEGMENT_BYTES, "{} bytes: {d}", d.len());
            let kept = d.split("%%").next().unwrap();
            let whole_escapes = kept.match_indices('%').all(|(i, _)| i + 3 <= kept.len());
            assert!(whole_escapes, "an escape was cut: {d}");
        }
        let distinct: std::collections::HashSet<String> =
            disk.iter().map(|d| d.to_lowercase()).collect();
        assert_eq!(distinct.len(), 4, "{disk:?}");
        assert_eq!(disk[3], "a".repeat(200), "short lower-case names are kept");
    }
}
