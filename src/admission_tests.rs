#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::*;

const MIB: u64 = 1 << 20;

fn soon(ms: u64) -> Instant {
    Instant::now() + Duration::from_millis(ms)
}

#[tokio::test]
async fn a_job_larger_than_the_whole_budget_is_refused_at_once_and_told_to_try_elsewhere() {
    // Arrange
    let admission = MemoryAdmission::new(100 * MIB);
    let started = Instant::now();

    // Act
    let err = admission.acquire(101 * MIB, soon(5_000)).await.unwrap_err();

    // Assert
    assert!(
        matches!(err, AdmissionError::LargerThanBudget { .. }),
        "{err:?}"
    );
    assert!(
        err.is_transient(),
        "the image is valid; this instance is small"
    );
    assert!(err.needs_more_memory());
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(admission.in_use_bytes(), 0);
}

#[tokio::test]
async fn a_job_that_must_wait_past_its_deadline_is_told_to_try_later() {
    // Arrange
    let admission = MemoryAdmission::new(100 * MIB);
    let _held = admission.acquire(80 * MIB, soon(100)).await.unwrap();

    // Act
    let err = admission.acquire(30 * MIB, soon(50)).await.unwrap_err();

    // Assert
    assert!(err.is_transient(), "{err:?}");
    assert!(err.to_string().contains("busy"), "{err}");
    assert_eq!(admission.in_use_bytes(), 80 * MIB);
}

#[tokio::test]
async fn a_waiting_job_is_admitted_when_an_earlier_one_releases_its_bytes() {
    // Arrange
    let admission = MemoryAdmission::new(100 * MIB);
    let first = admission.acquire(80 * MIB, soon(100)).await.unwrap();
    let waiter = {
        let admission = admission.clone();
        tokio::spawn(async move { admission.acquire(30 * MIB, soon(5_000)).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!waiter.is_finished());

    // Act
    drop(first);
    let second = waiter.await.unwrap().unwrap();

    // Assert
    assert_eq!(second.bytes(), 30 * MIB);
    assert_eq!(admission.in_use_bytes(), 30 * MIB);
}

#[tokio::test]
async fn a_permit_moved_into_blocking_work_is_released_only_when_that_work_ends() {
    // Arrange: the request awaiting the work is cancelled while the work still runs.
    let admission = MemoryAdmission::new(100 * MIB);
    let permit = admission.acquire(60 * MIB, soon(100)).await.unwrap();
    let release = Arc::new(AtomicBool::new(false));
    let work = {
        let release = Arc::clone(&release);
        tokio::task::spawn_blocking(move || {
            let _held = permit;
            while !release.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let request = tokio::spawn(async move { work.await.map(drop) });

    // Act
    request.abort();
    tokio::time::sleep(Duration::from_millis(30)).await;
    let during = admission.in_use_bytes();
    release.store(true, Ordering::SeqCst);
    let after = admission.acquire(100 * MIB, soon(2_000)).await;

    // Assert
    assert_eq!(during, 60 * MIB, "released before the blocking work ended");
    assert!(after.is_ok(), "never released: {after:?}");
}

#[tokio::test]
async fn a_permit_grows_when_the_whole_header_shows_a_larger_job() {
    // Arrange
    let admission = MemoryAdmission::new(100 * MIB);
    let mut permit = admission.acquire(10 * MIB, soon(100)).await.unwrap();

    // Act
    admission
        .grow(&mut permit, 50 * MIB, soon(100))
        .await
        .unwrap();
    let too_much = admission.grow(&mut permit, 50 * MIB, soon(100)).await;

    // Assert
    assert_eq!(permit.bytes(), 60 * MIB);
    assert!(matches!(
        too_much,
        Err(AdmissionError::LargerThanBudget { .. })
    ));
    drop(permit);
    assert_eq!(admission.in_use_bytes(), 0);
}

#[test]
fn the_cgroup_v2_limit_is_read_and_max_means_unlimited() {
    // Arrange
    let limited = tempfile::tempdir().unwrap();
    std::fs::write(limited.path().join("memory.max"), "536870912\n").unwrap();
    let unlimited = tempfile::tempdir().unwrap();
    std::fs::write(unlimited.path().join("memory.max"), "max\n").unwrap();

    // Act
    let limit = cgroup_memory_limit_bytes(limited.path());
    let none = cgroup_memory_limit_bytes(unlimited.path());

    // Assert
    assert_eq!(limit, Some(512 * MIB));
    assert_eq!(none, None);
}

#[test]
fn the_cgroup_v1_limit_is_read_and_its_huge_default_means_unlimited() {
    // Arrange
    let limited = tempfile::tempdir().unwrap();
    std::fs::create_dir(limited.path().join("memory")).unwrap();
    std::fs::write(
        limited.path().join("memory/memory.limit_in_bytes"),
        "1073741824\n",
    )
    .unwrap();
    let unlimited = tempfile::tempdir().unwrap();
    std::fs::create_dir(unlimited.path().join("memory")).unwrap();
    std::fs::write(
        unlimited.path().join("memory/memory.limit_in_bytes"),
        "9223372036854771712\n",
    )
    .unwrap();
    let absent = tempfile::tempdir().unwrap();

    // Act / Assert
    assert_eq!(cgroup_memory_limit_bytes(limited.path()), Some(1024 * MIB));
    assert_eq!(cgroup_memory_limit_bytes(unlimited.path()), None);
    assert_eq!(cgroup_memory_limit_bytes(absent.path()), None);
}

#[test]
fn the_default_budget_is_three_quarters_of_the_cgroup_limit() {
    // Arrange
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("memory.max"), "536870912").unwrap();

    // Act
    let budget = budget_from(None, root.path());
    let configured = budget_from(Some(384 * MIB), root.path());
    let fallback = budget_from(None, tempfile::tempdir().unwrap().path());

    // Assert
    assert_eq!(budget, 384 * MIB);
    assert_eq!(configured, 384 * MIB);
    assert_eq!(fallback, FALLBACK_BUDGET_BYTES);
}

#[tokio::test]
async fn a_shrunk_permit_gives_back_all_but_what_it_keeps() {
    // Arrange
    let admission = MemoryAdmission::new(100 * MIB);
    let mut permit = admission.acquire(80 * MIB, soon(100)).await.unwrap();

    // Act
    permit.shrink_to(3 * MIB);

    // Assert
    assert_eq!(permit.bytes(), 3 * MIB);
    assert_eq!(admission.in_use_bytes(), 3 * MIB);
    drop(permit);
    assert_eq!(admission.in_use_bytes(), 0);
}
