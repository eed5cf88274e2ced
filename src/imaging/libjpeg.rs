//! The error manager `decode` and `encode` give libjpeg (the `mozjpeg` crate's build of it),
//! and [`guarded`], which runs one libjpeg object under it. Fatal errors unwind with
//! libjpeg's message and come back as `Err`; warnings (a truncated or damaged scan, decoded
//! as grey) are collected; a file with more than [`MAX_SCANS`] scans is stopped. Must not
//! decode or encode.
//!
//! This is the crate's only unsafe code: libjpeg's callbacks get a raw pointer to the
//! manager. The `mozjpeg` crate's own manager would do without, but it silences warnings
//! (the caller must report damage) and formats messages into 80 bytes where libjpeg writes
//! up to `JMSG_LENGTH_MAX` (200).
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::os::raw::c_int;
use std::panic::{self, AssertUnwindSafe};

use mozjpeg_sys::{JTRC_SOS, jpeg_common_struct, jpeg_error_mgr, jpeg_std_error};

/// Scans one file may have: every scan of a progressive file revisits the whole coefficient
/// buffer, so thousands of tiny scans are a known CPU exhaustion attack (TurboJPEG's scan
/// limit, which the previous decoder used, has the same value).
pub(crate) const MAX_SCANS: u32 = 500;

/// libjpeg's `JMSG_LENGTH_MAX`: the most `format_message` writes, NUL included.
const MESSAGE_BYTES: usize = 200;

/// Warnings kept word for word; later ones are only counted.
const KEPT_WARNINGS: usize = 4;

/// What libjpeg reported while [`guarded`] ran.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// The first [`KEPT_WARNINGS`] warning messages.
    pub warnings: Vec<String>,
    /// Every warning, kept or not.
    pub warning_count: usize,
    scans: u32,
}

thread_local! {
    /// The report of the libjpeg object [`guarded`] runs on this thread (libjpeg calls back
    /// on the caller's thread, and `guarded` runs one object at a time).
    static REPORT: RefCell<Report> = RefCell::new(Report::default());
}

/// The payload a fatal libjpeg error unwinds with.
struct Fatal(String);

/// Runs `run`, which drives one libjpeg object built with the error manager it is given.
/// Returns its value and the warnings, or the fatal error's message (a panic inside the
/// `mozjpeg` crate's own code is turned into one too: it must never reach the job).
pub(crate) fn guarded<T>(run: impl FnOnce(jpeg_error_mgr) -> T) -> Result<(T, Report), String> {
    REPORT.set(Report::default());
    let result = panic::catch_unwind(AssertUnwindSafe(|| run(error_manager())));
    let report = REPORT.take();
    match result {
        Ok(value) => Ok((value, report)),
        Err(payload) => Err(match payload.downcast::<Fatal>() {
            Ok(fatal) => fatal.0,
            Err(payload) => match (
                payload.downcast_ref::<&str>(),
                payload.downcast_ref::<String>(),
            ) {
                (Some(message), _) => format!("the JPEG codec panicked: {message}"),
                (_, Some(message)) => format!("the JPEG codec panicked: {message}"),
                _ => "the JPEG codec panicked".to_owned(),
            },
        }),
    }
}

fn error_manager() -> jpeg_error_mgr {
    // SAFETY: jpeg_error_mgr is C data (optional function pointers, integers, raw pointers)
    // for which all zeroes is a valid value, and jpeg_std_error sets every field.
    let mut manager: jpeg_error_mgr = unsafe { std::mem::zeroed() };
    // SAFETY: a valid, exclusively borrowed manager; no self-references, so it may move.
    unsafe { jpeg_std_error(&mut manager) };
    manager.error_exit = Some(unwind_with_message);
    manager.emit_message = Some(record_message);
    manager
}

/// libjpeg's `error_exit`: must not return. `resume_unwind` skips the panic hook, so a
/// corrupt upload prints no backtrace; the C code is built with `-fexceptions`.
extern "C-unwind" fn unwind_with_message(cinfo: &mut jpeg_common_struct) {
    let message = format_message(cinfo);
    panic::resume_unwind(Box::new(Fatal(message)));
}

/// libjpeg's `emit_message`: level -1 is a warning, higher levels are trace messages, of
/// which only the start of a scan matters here.
extern "C-unwind" fn record_message(cinfo: &mut jpeg_common_struct, level: c_int) {
    if level < 0 {
        let kept = REPORT.with_borrow(|report| report.warnings.len() < KEPT_WARNINGS);
        let message = kept.then(|| format_message(cinfo));
        REPORT.with_borrow_mut(|report| {
            report.warning_count += 1;
            report.warnings.extend(message);
        });
    } else if message_code(cinfo) == JTRC_SOS as c_int {
        let scans = REPORT.with_borrow_mut(|report| {
            report.scans += 1;
            report.scans
        });
        if scans > MAX_SCANS {
            let message = format!("the file has more than {MAX_SCANS} scans");
            panic::resume_unwind(Box::new(Fatal(message)));
        }
    }
}

fn message_code(cinfo: &jpeg_common_struct) -> c_int {
    // SAFETY: libjpeg calls back with `err` pointing at the manager it was created with,
    // which the `mozjpeg` object owns for its whole life.
    unsafe { (*cinfo.err).msg_code }
}

fn format_message(cinfo: &mut jpeg_common_struct) -> String {
    type FormatMessage = unsafe extern "C-unwind" fn(&mut jpeg_common_struct, *mut u8);
    let mut buffer = [0u8; MESSAGE_BYTES];
    // SAFETY: `err` as in `message_code`. `format_message` writes at most JMSG_LENGTH_MAX
    // bytes, NUL included, into `buffer`; the binding declares its buffer `&[u8; 80]`, so
    // the pointer is cast to the C signature (`char *`), which has the same ABI.
    unsafe {
        if let Some(format) = (*cinfo.err).format_message {
            let format: FormatMessage = std::mem::transmute(format);
            format(cinfo, buffer.as_mut_ptr());
        }
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(MESSAGE_BYTES);
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}
