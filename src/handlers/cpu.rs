//! CPU-heavy work: run off the async executor under the CPU semaphore (`run_cpu`),
//! stoppable between stages once its request is gone, and the imaging options it runs
//! with, taken from the typed settings.

use crate::config::Settings;
use crate::error::HandlerError;
use crate::imaging::{EncodeOptions, Limits};
use crate::state::AppState;
use crate::telemetry::spawn_blocking_with_span;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Semaphore;

/// Runs CPU-heavy work off the executor under the CPU semaphore, keeping the event's span.
pub async fn run_cpu<F, R>(state: &AppState, work: F) -> Result<R, HandlerError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    run_blocking(&state.cpu, move |_| work()).await
}

/// [`run_cpu`] for work that checks, between its stages, whether it is still wanted: the
/// flag turns true once the awaiting request is gone (its deadline passed), so a long job
/// stops at its next stage instead of running on unseen while redeliveries start more.
pub async fn run_cpu_stoppable<F, R>(state: &AppState, work: F) -> Result<R, HandlerError>
where
    F: FnOnce(&AtomicBool) -> R + Send + 'static,
    R: Send + 'static,
{
    run_blocking(&state.cpu, work).await
}

/// Sets the flag when the awaiting future is dropped (the handler deadline passed).
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// [`run_cpu`] on a given semaphore. The permit moves into the blocking closure, so it is
/// held until the work really ends even when the handler's future is dropped at its
/// deadline (the blocking thread cannot be stopped); then nothing not yet started starts:
/// work the deadline overtook before it began is skipped, and work that began sees the
/// flag it is given turn true. A panic is permanent (the same input panics again); a
/// cancelled or aborted task is transient.
pub(crate) async fn run_blocking<F, R>(cpu: &Arc<Semaphore>, work: F) -> Result<R, HandlerError>
where
    F: FnOnce(&AtomicBool) -> R + Send + 'static,
    R: Send + 'static,
{
    let permit = cpu.clone().acquire_owned().await.map_err(|e| {
        HandlerError::Transient(anyhow::anyhow!("the CPU semaphore is closed: {e}"))
    })?;
    let cancelled = Arc::new(AtomicBool::new(false));
    let _cancel_on_drop = CancelOnDrop(cancelled.clone());
    let joined = spawn_blocking_with_span(move || {
        let _permit = permit;
        (!cancelled.load(Ordering::Relaxed)).then(|| work(&cancelled))
    })
    .await;
    match joined {
        Ok(Some(result)) => Ok(result),
        Ok(None) => Err(HandlerError::Transient(anyhow::anyhow!(
            "the CPU work was cancelled before it started"
        ))),
        Err(e) if e.is_panic() => Err(HandlerError::Permanent(anyhow::anyhow!(
            "image processing crashed (panic): {e}"
        ))),
        Err(e) => Err(HandlerError::Transient(anyhow::anyhow!(
            "the CPU work did not finish: {e}"
        ))),
    }
}

/// Limits from the settings.
pub fn imaging_limits(settings: &Settings) -> Limits {
    let i = &settings.imaging;
    Limits {
        max_input_bytes: i.max_input_bytes,
        max_width: i.max_width,
        max_height: i.max_height,
        max_pixels: i.max_pixels,
        max_frames: i.max_frames,
        max_animation_pixels: i.max_animation_pixels,
    }
}

/// Encoder options from the settings.
pub fn encode_options(settings: &Settings) -> EncodeOptions {
    let i = &settings.imaging;
    EncodeOptions {
        jpeg_quality: i.jpeg_quality,
        jpeg_progressive: i.jpeg_progressive,
        webp_quality: i.webp_quality,
        avif_quality: i.avif_quality,
        background_rgb: i.background.0,
        keep_copyright: i.keep_copyright,
        filter: i.filter.resize_filter(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    /// Blocking work that counts how many copies of it run at once.
    fn instrumented(
        running: Arc<AtomicUsize>,
        peak: Arc<AtomicUsize>,
    ) -> impl FnOnce(&AtomicBool) + Send {
        move |_| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(300));
            running.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_whose_handler_missed_its_deadline_keeps_the_permit_until_it_really_ends() {
        let cpu = Arc::new(Semaphore::new(1));
        let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));

        for _ in 0..3 {
            let work = instrumented(running.clone(), peak.clone());
            let deadline = Duration::from_millis(20);
            let _ = tokio::time::timeout(deadline, run_blocking(&cpu, work)).await;
        }
        let last = instrumented(running.clone(), peak.clone());
        run_blocking(&cpu, last).await.unwrap();

        assert_eq!(peak.load(Ordering::SeqCst), 1, "never two at once");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_that_began_sees_its_stop_flag_once_the_handler_gives_up() {
        let cpu = Arc::new(Semaphore::new(1));
        let (tx, rx) = std::sync::mpsc::channel();
        // Stages of 10 ms, checking the flag between them (bounded: 500 stages at most).
        let work = move |stop: &AtomicBool| {
            let stages_done = (0..500)
                .find(|_| {
                    std::thread::sleep(Duration::from_millis(10));
                    stop.load(Ordering::Relaxed)
                })
                .unwrap_or(500);
            tx.send(stages_done).unwrap();
        };

        let gave_up = tokio::time::timeout(Duration::from_millis(50), run_blocking(&cpu, work));
        assert!(gave_up.await.is_err(), "the handler gave up first");
        let wait = move || rx.recv_timeout(Duration::from_secs(10));
        let stages_done = tokio::task::spawn_blocking(wait).await.unwrap().unwrap();

        assert!(
            stages_done < 100,
            "stopped after {stages_done} of 500 stages"
        );
    }

    #[tokio::test]
    async fn a_panic_in_blocking_work_is_permanent() {
        let cpu = Arc::new(Semaphore::new(1));

        let result = run_blocking(&cpu, |_| -> u8 { panic!("decoder bug") }).await;

        assert!(result.is_err_and(|e| !e.is_transient()));
        assert_eq!(cpu.available_permits(), 1, "the permit came back");
    }
}
