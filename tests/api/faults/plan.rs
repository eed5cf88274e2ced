//! The seeded fault plan: which calls fail, and how. A decision depends only on the seed,
//! the call's method and path and how many times that same call came before, never on
//! timing, so the same seed replays the same faults for each call even though concurrent
//! calls interleave differently from run to run.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// What the proxy does to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// 503 UNAVAILABLE; the upstream never sees the call.
    Unavailable,
    /// 429 RESOURCE_EXHAUSTED with `Retry-After: 1`; the upstream never sees the call.
    TooManyRequests,
    /// The connection is reset before any answer; the upstream never sees the call.
    ResetBeforeAnswer,
    /// The upstream acts; the answer's head and half its body arrive, then a reset.
    HalfBodyThenReset,
    /// The upstream acts; the connection is reset before any of the answer is sent.
    AnswerLost,
    /// The upstream acts; the whole answer arrives after a delay (sometimes past the
    /// client's timeout).
    Slow,
}

pub const ALL_FAULTS: [Fault; 6] = [
    Fault::Unavailable,
    Fault::TooManyRequests,
    Fault::ResetBeforeAnswer,
    Fault::HalfBodyThenReset,
    Fault::AnswerLost,
    Fault::Slow,
];

pub struct Plan {
    seed: u64,
    /// Share of calls that get a fault, 0.0..=1.0.
    share: f64,
    seen: Mutex<HashMap<String, u64>>,
    injected: Mutex<HashMap<Fault, u64>>,
    pub calls: AtomicU64,
}

impl Plan {
    pub fn new(seed: u64, share: f64) -> Self {
        Self {
            seed,
            share,
            seen: Mutex::new(HashMap::new()),
            injected: Mutex::new(HashMap::new()),
            calls: AtomicU64::new(0),
        }
    }

    /// The fault for this call, if any, and a number in [0, 1) for its details (the delay).
    pub fn decide(&self, method: &str, path: &str) -> (Option<Fault>, f64) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let key = format!("{method} {path}");
        let nth = {
            let mut seen = self.seen.lock().unwrap();
            let n = seen.entry(key.clone()).or_insert(0);
            *n += 1;
            *n
        };
        let [pick, kind, detail] = unit_numbers(self.seed, &key, nth);
        if pick >= self.share {
            return (None, detail);
        }
        let fault = ALL_FAULTS[((kind * ALL_FAULTS.len() as f64) as usize).min(5)];
        *self.injected.lock().unwrap().entry(fault).or_insert(0) += 1;
        (Some(fault), detail)
    }

    /// Faults injected so far, by kind.
    pub fn injected(&self) -> Vec<(Fault, u64)> {
        let injected = self.injected.lock().unwrap();
        ALL_FAULTS
            .iter()
            .map(|f| (*f, injected.get(f).copied().unwrap_or(0)))
            .collect()
    }
}

/// Three numbers in [0, 1) from SHA-256 of (seed, key, n): stable across runs and builds.
pub fn unit_numbers(seed: u64, key: &str, n: u64) -> [f64; 3] {
    let digest = Sha256::new()
        .chain_update(seed.to_le_bytes())
        .chain_update(key.as_bytes())
        .chain_update(n.to_le_bytes())
        .finalize();
    let unit = |i: usize| {
        let bytes: [u8; 8] = digest[i * 8..i * 8 + 8].try_into().unwrap();
        (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
    };
    [unit(0), unit(1), unit(2)]
}
