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
    let subscription = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(sub_path("pull")))
        .respond_with(Endless(AtomicUsize::new(0)))
        .expect(MAX_PULLS as u64)
        .mount(&subscription)
        .await;
    Mock::given(method("POST"))
        .and(path(sub_path("modifyAckDeadline")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&subscription)
        .await;
    Mock::given(method("POST"))
        .and(path(sub_path("acknowledge")))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&subscription)
        .await;
    let settings = fakes.settings(&subscription.uri(), &[]);

    // Act
    let drained = gcp::list(&settings).await.unwrap();

    // Assert (the mocks' expectations are checked when the server drops)
    assert_eq!(drained.letters.len(), MAX_PULLS);
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
    let subscription = MockServer::start().await;
    let first = vec![dead_letter("ack-1", b"{}", json!({"eventType": "x"}), "s")];
    Mock::given(method("POST"))
        .and(path(sub_path("pull")))
        .respond_with(FailsAfterFirst(Mutex::new(Some(first))))
        .mount(&subscription)
        .await;
    Mock::given(method("POST"))
        .and(path(sub_path("modifyAckDeadline")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&subscription)
        .await;
    let settings = fakes.settings(&subscription.uri(), &[]);

    // Act
    let result = gcp::list(&settings).await;

    // Assert: the command fails, and the message leased by the first pull is released.
    let error = format!("{:#}", result.err().expect("the failed pull is an error"));
    assert!(error.contains("could not pull"), "{error}");
    let leases = ack_ids(&subscription, "modifyAckDeadline").await;
    assert_eq!(released(&leases), BTreeSet::from(["ack-1".into()]));
}
