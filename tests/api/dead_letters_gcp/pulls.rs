//! Pulling the dead-letter subscription: bounded however many letters keep coming, and
//! whatever was leased goes back when a pull fails midway.

use super::*;

/// Answers every pull with a batch of messages never seen before.
struct Endless(AtomicUsize);

impl Respond for Endless {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        let message = dead_letter(&format!("ack-{n}"), b"{}", json!({"eventType": "x"}), "s");
        ResponseTemplate::new(200).set_body_json(json!({ "receivedMessages": [message] }))
    }
}

#[actix_web::test]
async fn list_stops_after_a_bounded_number_of_pulls_however_many_letters_keep_coming() {
    // Arrange
    let fakes = gcp_fakes::start().await;
    let subscription = subscription_pulling(Endless(AtomicUsize::new(0))).await;
    let settings = fakes.settings(&subscription.uri(), &[]);

    // Act
    let drained = gcp::list(&settings).await.unwrap();

    // Assert
    assert_eq!(drained.letters.len(), MAX_PULLS);
    assert_eq!(pulls(&subscription).await, MAX_PULLS);
    assert!(ack_ids(&subscription, "acknowledge").await.is_empty());
    let requests = subscription.received_requests().await.unwrap();
    let pull: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(
        pull,
        json!({ "maxMessages": PULL_BATCH }),
        "no returnImmediately"
    );
}

/// The first pull brings `first`; every later one fails for good (500 is not retried).
struct FailsAfterFirst(Mutex<Option<Vec<Value>>>);

impl Respond for FailsAfterFirst {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        match self.0.lock().unwrap().take() {
            Some(batch) => {
                ResponseTemplate::new(200).set_body_json(json!({ "receivedMessages": batch }))
            }
            None => ResponseTemplate::new(500).set_body_json(json!({"error": {"code": 500}})),
        }
    }
}

#[actix_web::test]
async fn a_pull_that_fails_midway_gives_back_what_was_already_leased() {
    // Arrange
    let fakes = gcp_fakes::start().await;
    let first = vec![dead_letter("ack-1", b"{}", json!({"eventType": "x"}), "s")];
    let subscription = subscription_pulling(FailsAfterFirst(Mutex::new(Some(first)))).await;
    let settings = fakes.settings(&subscription.uri(), &[]);

    // Act
    let result = gcp::list(&settings).await;

    // Assert: the command fails, and the message leased by the first pull is released.
    let error = format!("{:#}", result.err().expect("the failed pull is an error"));
    assert!(error.contains("could not pull"), "{error}");
    assert_none_acked_and_released(&subscription, &["ack-1"]).await;
}
