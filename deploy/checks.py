"""The rules a deployment must keep, as functions over the parsed dry run.

Owns: what "correct wiring" means (routes, triggers, IAM, guards, env parity).
Must not: run anything. Each check raises AssertionError with a reason an
operator can act on; test_deploy.py runs them on the real dry run and on
deliberately broken copies, so a check that cannot fail is caught too.
"""

ROUTES = {"resize", "thumbnail", "moderate", "record"}
FINALIZED = "google.cloud.storage.object.v1.finalized"
DELETED = "google.cloud.storage.object.v1.deleted"
PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"

# What issue 8 asks for: storage finalized+deleted -> resize, thumbnail, record;
# Pub/Sub messagePublished on the pipeline topic -> moderate, record.
EXPECTED_WIRING = {
    ("/resize", FINALIZED), ("/resize", DELETED),
    ("/thumbnail", FINALIZED), ("/thumbnail", DELETED),
    ("/record", FINALIZED), ("/record", DELETED),
    ("/moderate", PUBLISHED), ("/record", PUBLISHED),
}

# Verbs that change a resource; each must be gated by a read of that resource.
MUTATING = {"create", "add-iam-policy-binding", "update", "enable", "delete",
            "remove-iam-policy-binding", "rm"}


def triggers(commands):
    """(name, argv Command) of every Eventarc trigger the dry run creates."""
    return [c for c in commands if c.path()[:3] == ["eventarc", "triggers", "create"]]


def trigger_filters(cmd):
    return dict(f.split("=", 1) for f in cmd.flags().get("event-filters", []))


def service_routes(service):
    """The routes a deployed service enables (PIPELINE_ROUTES)."""
    return service.deploy_env().get("PIPELINE_ROUTES", "").split(",")


def routes_reached(path, service):
    """The routes a POST to `path` on `service` runs: `/` runs every route the service
    enables (the dispatcher; each skips an event it does not take), `/<route>` that one."""
    return service_routes(service) if path == "/" else [path[1:]]


def check_trigger_paths(commands, services):
    """Every trigger path is `/` or a route the binary serves, and its service serves it."""
    found = triggers(commands)
    assert found, "the dry run creates no Eventarc trigger"
    for cmd in found:
        path = cmd.flag("destination-run-path")
        service = cmd.flag("destination-run-service")
        assert path and path.startswith("/") and (path == "/" or path[1:] in ROUTES), (
            f"trigger {cmd.argv[4]} posts to {path!r}, not / or one of /{', /'.join(sorted(ROUTES))}")
        assert service in services, f"trigger {cmd.argv[4]} targets {service}, which cloudbuild.yaml does not deploy"
        routes = service_routes(services[service])
        assert path == "/" or path[1:] in routes, (
            f"trigger {cmd.argv[4]} posts to {path} on {service}, which only enables {routes}")


def check_every_service_has_its_triggers(commands, services, upload_bucket, topic_path):
    """The wiring matches the issue exactly, and every deployed service is reached. A trigger
    on `/` counts for every route its service enables (the combined topology)."""
    wiring, reached = set(), set()
    for cmd in triggers(commands):
        filters = trigger_filters(cmd)
        service = cmd.flag("destination-run-service")
        routes = routes_reached(cmd.flag("destination-run-path"), services[service]) if service in services else []
        wiring |= {("/" + route, filters.get("type")) for route in routes}
        reached.add(service)
        if filters.get("type") == PUBLISHED:
            assert cmd.flag("transport-topic") == topic_path, (
                f"Pub/Sub trigger {cmd.argv[4]} reads {cmd.flag('transport-topic')}, not {topic_path}")
        else:
            assert filters.get("bucket") == upload_bucket, (
                f"storage trigger {cmd.argv[4]} watches {filters.get('bucket')}, not the upload bucket {upload_bucket}")
        assert cmd.flag("service-account"), f"trigger {cmd.argv[4]} has no --service-account"
    assert wiring == EXPECTED_WIRING, (
        f"trigger wiring differs: missing {sorted(EXPECTED_WIRING - wiring)}, extra {sorted(wiring - EXPECTED_WIRING)}")
    assert reached == set(services), f"services without a trigger: {sorted(set(services) - reached)}"


def check_no_service_is_public(services, texts):
    for svc in services.values():
        assert "--no-allow-unauthenticated" in svc.deploy_argv, f"{svc.name} is deployed without --no-allow-unauthenticated"
    for text in texts:
        for bad in ("--allow-unauthenticated", "allUsers", "allAuthenticatedUsers"):
            assert bad not in text, f"{bad} appears in the deployment"


def grants(commands):
    """(resource kind, resource, member, role) of every IAM binding added."""
    out = set()
    for cmd in commands:
        path = cmd.path()
        if path and path[-1] == "add-iam-policy-binding":
            resource = cmd.argv[len(path) + 1]
            out.add((" ".join(path[:-1]), resource, cmd.flag("member"), cmd.flag("role")))
    return out


def check_least_roles(commands, expected):
    got = grants(commands)
    for _, _, _, role in got:
        assert role not in ("roles/owner", "roles/editor", "roles/viewer"), f"basic role {role} granted"
        assert not role.endswith(".admin") and not role.endswith("Admin"), f"admin role {role} granted"
    assert got == expected, (
        "IAM grants differ from the reviewed list:\n  unexpected: "
        + "\n    ".join(map(str, sorted(got - expected)))
        + "\n  missing: " + "\n    ".join(map(str, sorted(expected - got))))


def _resource_words(argv):
    return [w for w in argv[1:] if not w.startswith("-")]


def check_every_change_is_guarded(commands):
    """Creates, grants, updates and deletes only run after a read shows they are needed."""
    for cmd in commands:
        path = cmd.path()
        if not path or path[-1] not in MUTATING or path[:2] == ["builds", "submit"]:
            continue
        assert cmd.kind == "ensure" and cmd.guard, f"unguarded: {' '.join(cmd.argv)}"
        guard_path = type(cmd)(cmd.guard).path()
        assert guard_path and guard_path[-1] in {"describe", "list", "get-iam-policy"}, (
            f"{' '.join(cmd.argv)} is guarded by {' '.join(cmd.guard)}, which is not a read")
        words = _resource_words(cmd.argv)
        target = words[len(path)] if len(words) > len(path) else cmd.flag("database")
        target_short = target.rsplit("/", 1)[-1].split("@")[0]
        assert any(target_short in w for w in cmd.guard), (
            f"{' '.join(cmd.argv)}: guard {' '.join(cmd.guard)} does not read {target}")


def check_build_is_guarded(commands, services):
    submits = [c for c in commands if c.path()[:2] == ["builds", "submit"]]
    assert len(submits) == 1, f"expected one gcloud builds submit, found {len(submits)}"
    guarded = {c.argv[4] for c in commands if c.kind == "build-guard"}
    assert guarded == set(services), f"the build skip-guard reads {sorted(guarded)}, not every service"
    subs = dict(kv.split("=", 1) for kv in submits[0].flag("substitutions").split(","))
    assert subs.get("COMMIT_SHA"), "gcloud builds submit passes no COMMIT_SHA"
    return subs


def check_env_parity(services, image_tag):
    for svc in services.values():
        assert svc.check_env, f"{svc.name} has no check-config step"
        assert svc.check_env == svc.deploy_env(), (
            f"{svc.name}: check-config env {svc.check_env} differs from deployed env {svc.deploy_env()}")
        assert sorted(svc.check_secret_env) == sorted(svc.deploy_secrets()), (
            f"{svc.name}: check-config reads secrets {svc.check_secret_env}, "
            f"the service {sorted(svc.deploy_secrets())}")
        assert svc.check_image == image_tag, f"{svc.name}: check-config runs {svc.check_image}, not {image_tag}"
        assert svc.deploy_flag("image") == "$$(cat /workspace/image-digest)", (
            f"{svc.name} is not deployed from the pushed digest")
        assert svc.deploy_flag("min-instances") == "0", f"{svc.name} keeps instances at rest"
        assert svc.deploy_flag("service-account", ).startswith(svc.name + "@"), f"{svc.name} runs as another identity"


def check_ack_deadlines(commands, services, trigger_service):
    """Each Eventarc subscription's ack deadline equals its service's request timeout."""
    updates = [c for c in commands if c.path()[:3] == ["pubsub", "subscriptions", "update"]]
    assert len(updates) == len(trigger_service), "not every trigger subscription gets retry/dead-letter settings"
    for cmd in updates:
        trigger = cmd.argv[4].removeprefix("<SUBSCRIPTION_OF_").removesuffix(">")
        svc = services[trigger_service[trigger]]
        timeout = svc.deploy_flag("timeout")
        assert cmd.flag("ack-deadline") == timeout, (
            f"{trigger}: ack deadline {cmd.flag('ack-deadline')} s but {svc.name} times out at {timeout} s")
        assert int(timeout) <= 600, f"{svc.name} timeout {timeout} s exceeds the 600 s Pub/Sub ack limit"
        assert cmd.flag("dead-letter-topic"), f"{trigger} has no dead-letter topic"


# --- The notifications transport (deploy.sh --transport notifications) ---------------

# Which Eventarc event types each push source stands for: the service turns a storage
# notification into the storage event and a pipeline message into messagePublished.
PUSH_SOURCE_TYPES = {"uploads": {FINALIZED, DELETED}, "events": {PUBLISHED}}


def check_bucket_notification(commands, upload_bucket, uploads_topic_path, prefix):
    """One notification on the upload bucket: finalize+delete, JSON payload, the prefix."""
    creates = [c for c in commands if c.path()[:4] == ["storage", "buckets", "notifications", "create"]]
    assert len(creates) == 1, f"expected one bucket notification, found {len(creates)}"
    cmd = creates[0]
    assert cmd.argv[5] == f"gs://{upload_bucket}", f"the notification watches {cmd.argv[5]}, not gs://{upload_bucket}"
    assert cmd.flag("topic") == uploads_topic_path, f"the notification publishes to {cmd.flag('topic')}"
    assert cmd.flag("event-types") == "OBJECT_FINALIZE,OBJECT_DELETE", (
        f"the notification sends {cmd.flag('event-types')}, not OBJECT_FINALIZE,OBJECT_DELETE")
    assert cmd.flag("payload-format") == "json", "the routes need the object resource (JSON_API_V1) in each message"
    assert cmd.flag("object-prefix") == prefix, (
        f"the notification filters on prefix {cmd.flag('object-prefix')!r}, not {prefix!r}")


def check_push_subscriptions(commands, services, topics, push_identity):
    """Push subscriptions reach every route as the Eventarc triggers do: each POSTs to a
    route its service enables, with an OIDC token for the service's URL, the service's
    timeout as ack deadline, and a dead-letter policy; no Eventarc trigger is created."""
    assert not triggers(commands), "the notifications transport still creates Eventarc triggers"
    creates = [c for c in commands if c.path()[:3] == ["pubsub", "subscriptions", "create"] and c.flag("push-endpoint")]
    assert creates, "the dry run creates no push subscription"
    wiring, reached = set(), set()
    for cmd in creates:
        name, endpoint = cmd.argv[4], cmd.flag("push-endpoint")
        service = endpoint.split(">", 1)[0].removeprefix("<URL_OF_")
        path = endpoint.split(">", 1)[1]
        assert service in services, f"{name} pushes to {endpoint}, not a deployed service"
        routes = services[service].deploy_env().get("PIPELINE_ROUTES", "").split(",")
        assert path[1:] in routes, f"{name} pushes to {path} on {service}, which only enables {routes}"
        source = next((s for s, t in topics.items() if cmd.flag("topic") == t), None)
        assert source, f"{name} reads {cmd.flag('topic')}, neither the uploads nor the pipeline topic"
        wiring |= {(path, ty) for ty in PUSH_SOURCE_TYPES[source]}
        reached.add(service)
        assert cmd.flag("push-auth-service-account") == push_identity, f"{name} pushes without the push identity's OIDC token"
        assert cmd.flag("push-auth-token-audience") == f"<URL_OF_{service}>", f"{name}: token audience is not {service}'s URL"
        assert cmd.flag("ack-deadline") == services[service].deploy_flag("timeout"), (
            f"{name}: ack deadline {cmd.flag('ack-deadline')} s but {service} times out at {services[service].deploy_flag('timeout')} s")
        assert cmd.flag("dead-letter-topic") and cmd.flag("max-delivery-attempts"), f"{name} has no dead-letter policy"
        assert cmd.flag("expiration-period") == "never", f"{name} would expire after 31 idle days"
    assert wiring == EXPECTED_WIRING, (
        f"push wiring differs: missing {sorted(EXPECTED_WIRING - wiring)}, extra {sorted(wiring - EXPECTED_WIRING)}")
    assert reached == set(services), f"services without a push subscription: {sorted(set(services) - reached)}"
