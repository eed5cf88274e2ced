//! The process-wide allocator policy, set once at start-up before any image is decoded.
//! Owns only glibc's `mallopt` knobs; must not allocate on behalf of anyone.
//!
//! Why: the service decodes one image after another. By default glibc hands every freed
//! buffer above its mmap threshold (at most 32 MiB, usually less) back to the kernel, so the
//! next image faults the same pages in again and the kernel clears each one: measured ~40 ms
//! of a 190 ms job on a 17.7 MP progressive JPEG (libjpeg's coefficient buffer is 53 MB).
//! Serving big buffers from the heap and keeping up to [`RETAINED_FREE_BYTES`] of freed heap
//! lets the next image reuse them. Peak memory is unchanged; idle memory stays at the peak
//! of the largest recent image (capped), which a Cloud Run instance is sized for anyway.
//!
//! One arena: glibc gives threads their own arenas (up to 8 per core), and memory freed in
//! one is kept there for that arena's next allocation. Decodes run on whichever blocking
//! thread is free, so with many arenas each could keep its own freed image buffers. With
//! one, a freed buffer serves the next job whatever thread runs it. (In the memory
//! benchmark this alone did not move the peak: 630 vs 632 MiB; the excess over the budget
//! was a premultiplied copy of RGBA rasters, see `resize.rs`.)

/// Allocations up to this size come from the heap (reusable) rather than a private mapping.
const HEAP_ALLOCATION_MAX_BYTES: i32 = 256 << 20;
/// Freed memory at the top of the heap is returned to the kernel only above this.
const RETAINED_FREE_BYTES: i32 = 256 << 20;
/// Every thread allocates from the main arena (see the module header).
const ARENAS: i32 = 1;

/// Applies the policy; returns false when the C library refused it (or is not glibc), in
/// which case the defaults stay and only speed is affected.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn keep_freed_image_buffers() -> bool {
    // SAFETY: `mallopt` only sets allocator parameters; it is called from `cli::run` before
    // any thread is started, and glibc takes the arena lock itself.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, HEAP_ALLOCATION_MAX_BYTES) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, RETAINED_FREE_BYTES) == 1
            && libc::mallopt(libc::M_ARENA_MAX, ARENAS) == 1
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn keep_freed_image_buffers() -> bool {
    false
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    #[test]
    fn glibc_accepts_the_allocator_policy() {
        assert!(super::keep_freed_image_buffers());
    }
}
