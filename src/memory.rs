//! The process-wide allocator policy, set once at start-up before any image is decoded, and
//! the bound on what the allocator keeps once jobs have freed it ([`bound_retained_free`]).
//! Owns only glibc's knobs; must not allocate on behalf of anyone.
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
//!
//! Bounded slack: memory admission counts what jobs hold, not what the allocator keeps
//! after they free it. Kept memory is reused only when a later request fits a freed hole,
//! so with images of many sizes the holes add up (issue 22: peaks of 560-659 MiB against a
//! 384 MiB budget). So the heap keeps at most [`RETAINED_FREE_BYTES`] free: above it glibc
//! trims the top itself, and [`bound_retained_free`], run whenever a job returns its memory
//! permit, gives the holes in the middle back too. RSS then stays within the budget plus
//! the runtime plus that much. (With the built-in moderator admitted too, the memory
//! benchmark at 80 in flight and a 384 MiB budget then peaked at 374.7, 357.8, 384.1, 373.5
//! and 355.1 MiB in five consecutive runs.)

/// Allocations up to this size come from the heap (reusable) rather than a private mapping.
const HEAP_ALLOCATION_MAX_BYTES: i32 = 256 << 20;
/// Free heap memory kept for reuse, at most (at the top by glibc; anywhere by
/// [`bound_retained_free`]). About one large image's buffers.
const RETAINED_FREE_BYTES: i32 = 64 << 20;
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

/// Returns free heap memory to the kernel when more than [`RETAINED_FREE_BYTES`] of it is
/// held (holes between live buffers included); returns the free bytes found. Cheap when
/// under the bound (glibc sums its free lists); called when a job's memory permit is
/// returned, so what admission gives back is given back by the allocator as well.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn bound_retained_free() -> u64 {
    // SAFETY: `mallinfo2` and `malloc_trim` only read and adjust the allocator's own state
    // under its lock; neither touches memory the caller owns.
    unsafe {
        let free_bytes = libc::mallinfo2().fordblks as u64;
        if free_bytes > RETAINED_FREE_BYTES as u64 {
            libc::malloc_trim(RETAINED_FREE_BYTES as usize);
        }
        free_bytes
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn bound_retained_free() -> u64 {
    0
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn glibc_accepts_the_allocator_policy() {
        assert!(super::keep_freed_image_buffers());
    }

    fn rss_bytes() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            * 1024
    }

    #[test]
    fn freed_holes_over_the_bound_go_back_to_the_kernel() {
        super::keep_freed_image_buffers();
        // 128 MiB of holes: every other 8 MiB buffer freed, the ones between still live.
        let buffers: Vec<Vec<u8>> = (0..32).map(|_| vec![1u8; 8 << 20]).collect();
        let kept: Vec<Vec<u8>> = buffers
            .into_iter()
            .enumerate()
            .filter_map(|(i, b)| (i % 2 == 0).then_some(b))
            .collect();
        let before = rss_bytes();

        let free_bytes = super::bound_retained_free();
        let after = rss_bytes();

        assert!(free_bytes >= 128 << 20, "{free_bytes} bytes free");
        assert!(
            before.saturating_sub(after) >= 48 << 20,
            "RSS {before} -> {after}"
        );
        drop(kept);
    }
}
