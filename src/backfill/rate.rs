//! The token bucket that keeps backfill under `--rate` events per second: one token per
//! event, a bucket of one (no bursts), refilled on tokio's clock (so tests pause it).

use std::time::Duration;
use tokio::time::Instant;

pub(crate) struct RateLimiter {
    interval: Duration,
    next: Option<Instant>,
}

impl RateLimiter {
    /// At most `per_sec` acquisitions per second (0 = unlimited).
    pub(crate) fn new(per_sec: f64) -> Self {
        let interval = if per_sec > 0.0 {
            Duration::from_secs_f64(1.0 / per_sec)
        } else {
            Duration::ZERO
        };
        Self {
            interval,
            next: None,
        }
    }

    /// Waits for the next token.
    pub(crate) async fn acquire(&mut self) {
        let now = Instant::now();
        let at = self.next.map_or(now, |next| next.max(now));
        tokio::time::sleep_until(at).await;
        self.next = Some(at + self.interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn ten_events_at_five_per_second_take_at_least_one_point_eight_seconds() {
        let mut limiter = RateLimiter::new(5.0);
        let started = Instant::now();

        for _ in 0..10 {
            limiter.acquire().await;
        }

        // The first token is free, the other nine come 200 ms apart.
        assert_eq!(started.elapsed(), Duration::from_millis(1800));
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_pause_does_not_bank_tokens_for_a_burst() {
        let mut limiter = RateLimiter::new(2.0);
        limiter.acquire().await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        let started = Instant::now();

        for _ in 0..3 {
            limiter.acquire().await;
        }

        assert_eq!(started.elapsed(), Duration::from_millis(1000));
    }
}
