use super::*;
use crate::domain::Outcome;

#[test]
fn retry_is_503_and_every_other_outcome_is_200() {
    let mut response = EventResponse::from_result("resize", Ok(Outcome::processed("ok")));
    for (outcome, status) in [
        (WireOutcome::Processed, 200),
        (WireOutcome::Duplicate, 200),
        (WireOutcome::Skipped, 200),
        (WireOutcome::Rejected, 200),
        (WireOutcome::Retry, 503),
    ] {
        response.outcome = outcome;
        assert_eq!(
            respond(&response, MalformedStatus::Ack).status().as_u16(),
            status,
            "{outcome:?}"
        );
    }
}

#[test]
fn malformed_event_is_400_only_when_configured() {
    let response = EventResponse::malformed("resize", "missing ce-id".to_owned());

    assert_eq!(
        respond(&response, MalformedStatus::Ack).status().as_u16(),
        200
    );
    assert_eq!(
        respond(&response, MalformedStatus::BadRequest)
            .status()
            .as_u16(),
        400
    );
}
