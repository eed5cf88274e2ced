use super::*;

#[test]
fn dispatch_answers_with_the_most_serious_outcome() {
    let results = vec![
        EventResponse::from_result("resize", Ok(Outcome::processed("made 3 sizes"))),
        EventResponse::from_result(
            "record",
            Err(HandlerError::Transient(anyhow::anyhow!("firestore 503"))),
        ),
    ];

    let combined = combine("t", results);

    assert_eq!(combined.outcome, WireOutcome::Retry);
    assert_eq!(combined.route, "resize,record");
    assert_eq!(combined.results.len(), 2);
}

#[test]
fn a_path_names_one_route_or_all_of_them() {
    assert_eq!(
        Target::from_path("/resize"),
        Some(Target::Route(RouteName::Resize))
    );
    assert_eq!(Target::from_path("/"), Some(Target::All));
    assert_eq!(Target::from_path(""), Some(Target::All));
    assert_eq!(Target::from_path("/nope"), None);
}
