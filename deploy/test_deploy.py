"""Dry-run tests of the Google Cloud deployment (run by deploy/test_deploy.sh).

Owns: running deploy.sh and teardown.sh with --dry-run, and holding the reviewed
list of IAM grants. Must not: run gcloud against a project (a fake gcloud on PATH
fails the test if the dry run calls it).
"""

import concurrent.futures
import functools
import os
import re
import stat
import subprocess
import shutil
import tempfile
import tomllib
import unittest

import checks
import deploy_model as m

PROJECT = "demo-project"
UPLOAD = "gs://demo-project-image-uploads"
OUTPUT = "gs://demo-project-image-derived"
BUILD = "gs://demo-project-image-pipeline-build"
TOPIC = "image-pipeline-events"
TOPIC_PATH = f"projects/{PROJECT}/topics/{TOPIC}"
IMAGE_TAG = "${_REGION}-docker.pkg.dev/${PROJECT_ID}/${_REPO}/image-pipeline:${COMMIT_SHA}"
SIGNING_KEY_SECRET = "image-pipeline-derived-signing-key"
SIGNING_KEY_ENV = "PIPELINE_DERIVED__SIGNING_KEY"


def sa(name):
    return f"serviceAccount:{name}@{PROJECT}.iam.gserviceaccount.com"


def email(name):
    return f"{name}@{PROJECT}.iam.gserviceaccount.com"


PUBSUB_AGENT = "serviceAccount:service-<PROJECT_NUMBER>@gcp-sa-pubsub.iam.gserviceaccount.com"
SERVICES = ["image-resizer", "image-thumbnailer", "content-moderator", "image-recorder"]
TRIGGER_SERVICE = {
    "image-pipeline-resize-finalized": "image-resizer",
    "image-pipeline-resize-deleted": "image-resizer",
    "image-pipeline-thumbnail-finalized": "image-thumbnailer",
    "image-pipeline-thumbnail-deleted": "image-thumbnailer",
    "image-pipeline-record-finalized": "image-recorder",
    "image-pipeline-record-deleted": "image-recorder",
    "image-pipeline-moderate-events": "content-moderator",
    "image-pipeline-record-events": "image-recorder",
}

# The reviewed IAM grants for the default layout (separate output bucket, policy
# "record"). A new grant must be added here on purpose.
EXPECTED_GRANTS = {
    ("storage buckets", UPLOAD, sa("image-resizer"), "roles/storage.objectViewer"),
    ("storage buckets", OUTPUT, sa("image-resizer"), "roles/storage.objectUser"),
    ("storage buckets", UPLOAD, sa("image-thumbnailer"), "roles/storage.objectViewer"),
    ("storage buckets", OUTPUT, sa("image-thumbnailer"), "roles/storage.objectUser"),
    ("storage buckets", UPLOAD, sa("content-moderator"), "roles/storage.objectViewer"),
    ("storage buckets", OUTPUT, sa("content-moderator"), "roles/storage.objectViewer"),
    ("storage buckets", UPLOAD, sa("image-recorder"), "roles/storage.objectViewer"),
    ("pubsub topics", TOPIC, sa("image-resizer"), "roles/pubsub.publisher"),
    ("pubsub topics", TOPIC, sa("image-thumbnailer"), "roles/pubsub.publisher"),
    ("pubsub topics", TOPIC, sa("content-moderator"), "roles/pubsub.publisher"),
    ("pubsub topics", "image-pipeline-dead-letter", PUBSUB_AGENT, "roles/pubsub.publisher"),
    ("projects", PROJECT, sa("image-pipeline-trigger"), "roles/eventarc.eventReceiver"),
    ("projects", PROJECT, "serviceAccount:<GCS_SERVICE_AGENT>", "roles/pubsub.publisher"),
    ("iam service-accounts", email("image-pipeline-trigger"), PUBSUB_AGENT,
     "roles/iam.serviceAccountTokenCreator"),
    ("storage buckets", BUILD, sa("image-pipeline-build"), "roles/storage.objectViewer"),
    ("artifacts repositories", "image-pipeline", sa("image-pipeline-build"),
     "roles/artifactregistry.writer"),
    ("projects", PROJECT, sa("image-pipeline-build"), "roles/run.developer"),
    ("projects", PROJECT, sa("image-pipeline-build"), "roles/logging.logWriter"),
} | {
    ("iam service-accounts", email(s), sa("image-pipeline-build"), "roles/iam.serviceAccountUser")
    for s in SERVICES
} | {
    # The idempotency ledger lives in Firestore, so every route reads and writes it.
    ("projects", PROJECT, sa(s), "roles/datastore.user") for s in SERVICES
} | {
    ("run services", s, sa("image-pipeline-trigger"), "roles/run.invoker") for s in SERVICES
} | {
    # Every route tells outputs from uploads by their signature; check-config (run by the
    # build identity) loads each service's settings, the key included.
    ("secrets", SIGNING_KEY_SECRET, sa(s), "roles/secretmanager.secretAccessor")
    for s in SERVICES + ["image-pipeline-build"]
} | {
    ("pubsub subscriptions", f"<SUBSCRIPTION_OF_{t}>", PUBSUB_AGENT, "roles/pubsub.subscriber")
    for t in TRIGGER_SERVICE
}


# The notifications transport (deploy.sh --transport notifications): no Eventarc, so no
# event receiver role and no project-wide publisher for Cloud Storage; instead Cloud
# Storage may publish to the uploads topic only, and Pub/Sub's agent may dead-letter from
# each push subscription.
UPLOADS_TOPIC = "image-pipeline-uploads"
PUSH_SUBSCRIPTIONS = {
    "image-pipeline-resize-uploads", "image-pipeline-thumbnail-uploads", "image-pipeline-record-uploads",
    "image-pipeline-moderate-events", "image-pipeline-record-events",
}
EXPECTED_GRANTS_NOTIFICATIONS = EXPECTED_GRANTS - {
    ("projects", PROJECT, sa("image-pipeline-trigger"), "roles/eventarc.eventReceiver"),
    ("projects", PROJECT, "serviceAccount:<GCS_SERVICE_AGENT>", "roles/pubsub.publisher"),
} - {
    ("pubsub subscriptions", f"<SUBSCRIPTION_OF_{t}>", PUBSUB_AGENT, "roles/pubsub.subscriber")
    for t in TRIGGER_SERVICE
} | {
    ("pubsub topics", UPLOADS_TOPIC, "serviceAccount:<GCS_SERVICE_AGENT>", "roles/pubsub.publisher"),
} | {
    ("pubsub subscriptions", name, PUBSUB_AGENT, "roles/pubsub.subscriber") for name in PUSH_SUBSCRIPTIONS
}


# The combined topology (deploy.sh --topology combined): image-processor serves resize and
# thumbnail behind one storage trigger per event type on `/`; moderator and recorder as above.
PROCESSOR = "image-processor"
FOUR_ONLY = {"image-resizer", "image-thumbnailer"}
SERVICES_COMBINED = [PROCESSOR, "content-moderator", "image-recorder"]
TRIGGER_SERVICE_COMBINED = {
    "image-pipeline-process-finalized": PROCESSOR,
    "image-pipeline-process-deleted": PROCESSOR,
} | {t: s for t, s in TRIGGER_SERVICE.items() if s not in FOUR_ONLY}
# The processor holds exactly the resizer's grants (the thumbnailer's were the same on the
# same resources); the trigger subscriptions are the combined topology's.
EXPECTED_GRANTS_COMBINED = {
    tuple(w.replace("image-resizer", PROCESSOR) for w in g)
    for g in EXPECTED_GRANTS
    if "image-thumbnailer" not in " ".join(g) and not g[1].startswith("<SUBSCRIPTION_OF_")
} | {
    ("pubsub subscriptions", f"<SUBSCRIPTION_OF_{t}>", PUBSUB_AGENT, "roles/pubsub.subscriber")
    for t in TRIGGER_SERVICE_COMBINED
}


def default_ledger_collection():
    """records.ledger_collection in config/default.toml (what the services use)."""
    with open(os.path.join(m.REPO_ROOT, "config/default.toml"), "rb") as f:
        return tomllib.load(f)["records"]["ledger_collection"]


@functools.lru_cache(maxsize=None)
def dry_run(script, *args):
    code, out, err = m.run_script(script, "--project", PROJECT, "--dry-run", *args)
    assert code == 0, f"{script} --dry-run exited {code}: {err}"
    return out


class DeployDryRun(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.out = dry_run("deploy.sh")
        cls.commands = m.parse_dry_run(cls.out)
        cls.build = m.load_cloudbuild()
        cls.services = m.cloudbuild_services(cls.build)
        with open(os.path.join(m.REPO_ROOT, "cloudbuild.yaml"), encoding="utf-8") as f:
            cls.cloudbuild_text = f.read()

    def test_dry_run_calls_no_gcloud_and_prints_the_same_twice(self):
        fake_bin = tempfile.mkdtemp()
        marker = os.path.join(fake_bin, "called")
        gcloud = os.path.join(fake_bin, "gcloud")
        with open(gcloud, "w", encoding="utf-8") as f:
            f.write(f"#!/bin/sh\necho \"$@\" >> {marker}\nexit 1\n")
        os.chmod(gcloud, stat.S_IRWXU)
        try:
            code, out, err = m.run_script("deploy.sh", "--project", PROJECT, "--dry-run",
                                          path_prefix=fake_bin)
            self.assertEqual(code, 0, err)
            self.assertFalse(os.path.exists(marker), "the dry run executed gcloud")
            self.assertEqual(out, self.out, "two dry runs printed different commands")
        finally:
            shutil.rmtree(fake_bin)

    def test_a_failing_gcloud_command_stops_the_deploy_there(self):
        fake_bin = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, fake_bin)
        log = os.path.join(fake_bin, "calls")
        gcloud = os.path.join(fake_bin, "gcloud")
        # Reads find nothing, writes succeed, except creating the pipeline topic.
        with open(gcloud, "w", encoding="utf-8") as f:
            f.write(f"""#!/bin/sh
echo "$*" >> {log}
case "$*" in
  "projects describe"*) echo 123456789 ;;
  "storage service-agent"*) echo service-123456789@gs-project-accounts.iam.gserviceaccount.com ;;
  "pubsub topics create {TOPIC} "*) echo "ERROR: permission denied" >&2; exit 1 ;;
  *" describe "*|*" list "*|*" get-iam-policy "*) exit 1 ;;
esac
""")
        os.chmod(gcloud, stat.S_IRWXU)
        code, _, err = m.run_script("deploy.sh", "--project", PROJECT, path_prefix=fake_bin)
        self.assertNotEqual(code, 0, "the deploy went on after gcloud failed")
        self.assertIn("permission denied", err)
        with open(log, encoding="utf-8") as f:
            calls = f.read().splitlines()
        self.assertTrue(calls[-1].startswith(f"pubsub topics create {TOPIC} "), f"ran on after the failure: {calls[-1]}")

    def test_deploy_without_a_project_is_refused_with_its_reason(self):
        code, _, err = m.run_script("deploy.sh", "--dry-run")
        self.assertEqual(code, 2)
        self.assertIn("--project PROJECT_ID is required", err)

    def test_cloudbuild_deploys_exactly_the_four_services(self):
        self.assertEqual(sorted(self.services), sorted(SERVICES))

    def test_trigger_paths_are_routes_the_binary_serves(self):
        checks.check_trigger_paths(self.commands, self.services)

    def test_every_deployed_service_has_its_triggers(self):
        checks.check_every_service_has_its_triggers(self.commands, self.services, UPLOAD[5:], TOPIC_PATH)

    def test_no_service_accepts_unauthenticated_calls(self):
        checks.check_no_service_is_public(self.services, [self.out, self.cloudbuild_text])

    def test_iam_grants_are_the_reviewed_least_roles(self):
        checks.check_least_roles(self.commands, EXPECTED_GRANTS)

    def test_every_create_grant_and_update_is_guarded_by_a_read(self):
        checks.check_every_change_is_guarded(self.commands)

    def test_the_build_is_skipped_when_every_service_runs_this_commit(self):
        subs = checks.check_build_is_guarded(self.commands, self.services)
        declared = set(self.build["substitutions"]) | {"COMMIT_SHA"}
        self.assertLessEqual(set(subs), declared, "deploy.sh passes substitutions cloudbuild.yaml does not declare")
        for key in declared:
            self.assertIn("${" + key + "}", self.cloudbuild_text, f"substitution {key} is never used")

    def test_check_config_runs_each_service_env_in_the_built_image(self):
        checks.check_env_parity(self.services, IMAGE_TAG)

    def test_ack_deadlines_match_service_timeouts(self):
        checks.check_ack_deadlines(self.commands, self.services, TRIGGER_SERVICE)

    def test_the_ledger_expires_through_a_firestore_ttl_policy_on_expire_at(self):
        ttl = [c for c in self.commands if c.path() == ["firestore", "fields", "ttls", "update"]]
        self.assertEqual(len(ttl), 1, "the dry run sets no TTL policy on the ledger")
        cmd = ttl[0]
        self.assertEqual(cmd.argv[5], "expireAt")
        self.assertIn("--enable-ttl", cmd.argv)
        self.assertEqual(cmd.kind, "ensure", "the TTL update is not guarded by a read")
        self.assertEqual(cmd.flag("collection-group"), default_ledger_collection())
        with open(os.path.join(m.REPO_ROOT, "src/backends/gcp/firestore.rs"), encoding="utf-8") as f:
            self.assertIn('"expireAt": { "timestampValue"', f.read(), "the ledger no longer writes expireAt")

    def test_blur_policy_lets_the_moderator_write_both_buckets(self):
        code, out, err = m.run_script("deploy.sh", "--project", PROJECT, "--dry-run",
                                      extra_env={"MODERATION_POLICY": "blur"})
        self.assertEqual(code, 0, err)
        got = checks.grants(m.parse_dry_run(out))
        for bucket in (UPLOAD, OUTPUT):
            self.assertIn(("storage buckets", bucket, sa("content-moderator"), "roles/storage.objectUser"), got)

    def test_an_unknown_moderation_policy_is_refused(self):
        code, _, err = m.run_script("deploy.sh", "--project", PROJECT, "--dry-run",
                                    extra_env={"MODERATION_POLICY": "delete"})
        self.assertNotEqual(code, 0)
        self.assertIn("MODERATION_POLICY must be", err)

    def test_same_bucket_mode_writes_outputs_to_the_upload_bucket_only(self):
        commands = m.parse_dry_run(dry_run("deploy.sh", "--same-bucket"))
        got = checks.grants(commands)
        self.assertIn(("storage buckets", UPLOAD, sa("image-resizer"), "roles/storage.objectUser"), got)
        self.assertFalse([g for g in got if g[1] == OUTPUT], "--same-bucket still grants on the output bucket")
        creates = [c.argv[4] for c in commands if c.path() == ["storage", "buckets", "create"]]
        self.assertNotIn(OUTPUT, creates)

    def test_the_default_build_writes_every_output_to_its_own_bucket(self):
        default = self.build["substitutions"]["_OUTPUT_BUCKET"]
        self.assertEqual(default, "${PROJECT_ID}-image-derived", "outputs go next to uploads by default")
        self.assertIs(self.build["options"].get("dynamicSubstitutions"), True,
                      "_OUTPUT_BUCKET's default names ${PROJECT_ID}, which needs dynamicSubstitutions")
        expected = {
            "image-resizer": {"PIPELINE_RESIZE__BUCKET"},
            "image-thumbnailer": {"PIPELINE_THUMBNAIL__BUCKET"},
            "content-moderator": {"PIPELINE_RESIZE__BUCKET", "PIPELINE_THUMBNAIL__BUCKET",
                                  "PIPELINE_MODERATION__QUARANTINE_BUCKET"},
        }
        for name, keys in expected.items():
            env = self.services[name].deploy_env()
            for key in keys:
                self.assertEqual(env.get(key), "${_OUTPUT_BUCKET}", f"{name}: {key}")
        submit = next(c for c in self.commands if c.path()[:2] == ["builds", "submit"])
        self.assertIn(f"_OUTPUT_BUCKET={OUTPUT[5:]},", submit.flag("substitutions"))

    def test_every_service_and_its_check_config_get_the_signing_key_from_secret_manager(self):
        secret = self.build["availableSecrets"]["secretManager"]
        self.assertEqual(secret, [{
            "versionName": "projects/${PROJECT_ID}/secrets/${_SIGNING_KEY_SECRET}/versions/latest",
            "env": SIGNING_KEY_ENV,
        }])
        for svc in self.services.values():
            self.assertEqual(svc.deploy_secrets(), {SIGNING_KEY_ENV: "${_SIGNING_KEY_SECRET}:latest"}, svc.name)
            self.assertEqual(svc.check_secret_env, [SIGNING_KEY_ENV], svc.name)
            self.assertNotIn(SIGNING_KEY_ENV, svc.deploy_env(), f"{svc.name}: the key is a plain env var")

    def test_the_signing_key_secret_is_made_once_from_stdin_and_never_printed(self):
        creates = [c for c in self.commands if c.path() == ["secrets", "create"]]
        self.assertEqual(len(creates), 1, "the dry run makes no signing key secret")
        create = creates[0]
        self.assertEqual(create.argv[3], SIGNING_KEY_SECRET)
        self.assertEqual(create.flag("data-file"), "-", "the key must come on stdin, not as an argument")
        self.assertEqual(create.kind, "ensure", "a second deploy would replace the key")
        submit = next(c for c in self.commands if c.path()[:2] == ["builds", "submit"])
        self.assertIn(f"_SIGNING_KEY_SECRET={SIGNING_KEY_SECRET}", submit.flag("substitutions"))

    def test_a_key_is_made_from_random_bytes_only_on_a_real_run(self):
        fake_bin = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, fake_bin)
        stdin_log = os.path.join(fake_bin, "secret-stdin")
        # Reads find nothing, so every create runs; `secrets create` keeps what it is fed.
        with open(os.path.join(fake_bin, "gcloud"), "w", encoding="utf-8") as f:
            f.write(f"""#!/bin/sh
case "$*" in
  "projects describe"*) echo 123456789 ;;
  "storage service-agent"*) echo service-123456789@gs-project-accounts.iam.gserviceaccount.com ;;
  "secrets create"*) cat > {stdin_log} ;;
  *" describe "*|*" list "*|*" get-iam-policy "*) exit 1 ;;
esac
""")
        os.chmod(os.path.join(fake_bin, "gcloud"), stat.S_IRWXU)
        code, out, err = m.run_script("deploy.sh", "--project", PROJECT, "--phase", "infra", path_prefix=fake_bin)
        self.assertEqual(code, 0, err)
        with open(stdin_log, encoding="utf-8") as f:
            key = f.read()
        self.assertGreaterEqual(len(key), 32, "the signing key is shorter than the service accepts")
        self.assertNotIn(key, out + err, "the signing key was printed")

    def test_teardown_removes_what_deploy_creates_and_keeps_buckets_unless_asked(self):
        out = dry_run("teardown.sh")
        commands = m.parse_dry_run(out)
        checks.check_every_change_is_guarded(commands)
        deleted = {c.argv[4] for c in commands if c.path()[-1:] == ["delete"] and len(c.argv) > 4}
        self.assertLessEqual(set(TRIGGER_SERVICE), deleted)
        self.assertLessEqual(set(SERVICES), deleted)
        self.assertLessEqual(PUSH_SUBSCRIPTIONS | {UPLOADS_TOPIC}, deleted, "the notifications transport is left behind")
        removed = {w for c in commands if c.path() == ["storage", "rm"] for w in c.argv if w.startswith("gs://")}
        self.assertEqual(removed, {BUILD})
        commands = m.parse_dry_run(dry_run("teardown.sh", "--delete-buckets"))
        removed = {w for c in commands if c.path() == ["storage", "rm"] for w in c.argv if w.startswith("gs://")}
        self.assertEqual(removed, {BUILD, UPLOAD, OUTPUT})
        self.assertIn(["gcloud", "secrets", "delete", SIGNING_KEY_SECRET],
                      [c.argv[:4] for c in commands], "the signing key outlives the objects it signed")


class NotificationsTransportDryRun(unittest.TestCase):
    """deploy.sh --transport notifications: a bucket notification with a prefix and plain
    push subscriptions with OIDC, instead of Eventarc (which stays the default)."""

    @classmethod
    def setUpClass(cls):
        cls.out = dry_run("deploy.sh", "--transport", "notifications")
        cls.commands = m.parse_dry_run(cls.out)
        cls.services = m.cloudbuild_services(m.load_cloudbuild())
        cls.topics = {"uploads": f"projects/{PROJECT}/topics/{UPLOADS_TOPIC}", "events": TOPIC_PATH}

    def test_eventarc_stays_the_default_transport(self):
        default = m.parse_dry_run(dry_run("deploy.sh"))
        self.assertTrue(checks.triggers(default), "the default deploy creates no Eventarc trigger")
        self.assertFalse([c for c in default if c.path()[:3] == ["storage", "buckets", "notifications"]],
                         "the default deploy creates a bucket notification")

    def test_the_bucket_notification_sends_finalize_and_delete_under_the_upload_prefix(self):
        checks.check_bucket_notification(self.commands, UPLOAD[5:], self.topics["uploads"], "incoming/")

    def test_an_empty_upload_prefix_watches_the_whole_bucket(self):
        code, out, err = m.run_script("deploy.sh", "--project", PROJECT, "--dry-run", "--transport=notifications",
                                      extra_env={"UPLOAD_PREFIX": ""})
        self.assertEqual(code, 0, err)
        checks.check_bucket_notification(m.parse_dry_run(out), UPLOAD[5:], self.topics["uploads"], None)

    def test_every_route_gets_a_push_subscription_with_oidc_and_a_dead_letter_policy(self):
        checks.check_push_subscriptions(self.commands, self.services, self.topics,
                                        email("image-pipeline-trigger"))

    def test_the_moderator_only_receives_image_resized(self):
        create = next(c for c in self.commands if c.path()[:3] == ["pubsub", "subscriptions", "create"]
                      and c.argv[4] == "image-pipeline-moderate-events")
        self.assertEqual(create.flag("message-filter"), 'attributes.eventType = "image.resized"')

    def test_iam_grants_are_the_reviewed_least_roles(self):
        checks.check_least_roles(self.commands, EXPECTED_GRANTS_NOTIFICATIONS)

    def test_every_create_grant_and_update_is_guarded_by_a_read(self):
        checks.check_every_change_is_guarded(self.commands)

    def test_the_dry_run_shows_every_command_and_runs_none(self):
        fake_bin = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, fake_bin)
        marker = os.path.join(fake_bin, "called")
        with open(os.path.join(fake_bin, "gcloud"), "w", encoding="utf-8") as f:
            f.write(f"#!/bin/sh\necho \"$@\" >> {marker}\nexit 1\n")
        os.chmod(os.path.join(fake_bin, "gcloud"), stat.S_IRWXU)
        code, out, err = m.run_script("deploy.sh", "--project", PROJECT, "--dry-run", "--transport", "notifications",
                                      path_prefix=fake_bin)
        self.assertEqual(code, 0, err)
        self.assertFalse(os.path.exists(marker), "the dry run executed gcloud")
        self.assertEqual(out, self.out)

    def test_an_unknown_transport_is_refused(self):
        code, _, err = m.run_script("deploy.sh", "--project", PROJECT, "--dry-run", "--transport", "carrier-pigeon")
        self.assertNotEqual(code, 0)
        self.assertIn("--transport must be eventarc or notifications", err)


class CombinedTopologyDryRun(unittest.TestCase):
    """deploy.sh --topology combined: resize and thumbnail in one service, one storage
    trigger per event type on `/`, so each upload is downloaded and decoded once."""

    @classmethod
    def setUpClass(cls):
        cls.out = dry_run("deploy.sh", "--topology", "combined")
        cls.commands = m.parse_dry_run(cls.out)
        cls.build = m.load_cloudbuild()
        cls.services = m.cloudbuild_services(cls.build, "combined")

    def test_cloudbuild_deploys_the_processor_the_moderator_and_the_recorder(self):
        self.assertEqual(sorted(self.services), sorted(SERVICES_COMBINED))

    def test_the_processor_serves_resize_and_thumbnail_with_the_resizers_resources(self):
        processor = self.services[PROCESSOR]
        resizer = m.cloudbuild_services(self.build)["image-resizer"]
        env = processor.deploy_env()
        self.assertEqual(env["PIPELINE_ROUTES"], "resize,thumbnail")
        self.assertEqual(env["PIPELINE_RESIZE__BUCKET"], "${_OUTPUT_BUCKET}")
        self.assertEqual(env["PIPELINE_THUMBNAIL__BUCKET"], "${_OUTPUT_BUCKET}")
        for flag in ("cpu", "memory", "concurrency", "timeout", "max-instances"):
            self.assertEqual(processor.deploy_flag(flag), resizer.deploy_flag(flag), flag)
        self.assertEqual(env["PIPELINE_SERVER__HANDLER_DEADLINE_SECS"], "290")

    def test_the_storage_triggers_are_exactly_two_on_the_processors_root(self):
        storage = [c for c in checks.triggers(self.commands)
                   if c.flag("destination-run-service") == PROCESSOR]
        expected = [
            ["gcloud", "eventarc", "triggers", "create", f"image-pipeline-process-{kind}",
             "--location=us-central1", f"--project={PROJECT}", f"--destination-run-service={PROCESSOR}",
             "--destination-run-region=us-central1", "--destination-run-path=/",
             f"--event-filters=type=google.cloud.storage.object.v1.{kind}",
             f"--event-filters=bucket={UPLOAD[5:]}", f"--service-account={email('image-pipeline-trigger')}"]
            for kind in ("finalized", "deleted")
        ]
        self.assertEqual([c.argv for c in storage], expected)
        names = sorted(c.argv[4] for c in checks.triggers(self.commands))
        self.assertEqual(names, sorted(TRIGGER_SERVICE_COMBINED))

    def test_every_route_still_gets_exactly_its_events(self):
        checks.check_trigger_paths(self.commands, self.services)
        checks.check_every_service_has_its_triggers(self.commands, self.services, UPLOAD[5:], TOPIC_PATH)

    def test_iam_grants_are_the_reviewed_least_roles(self):
        checks.check_least_roles(self.commands, EXPECTED_GRANTS_COMBINED)

    def test_every_create_grant_and_update_is_guarded_by_a_read(self):
        checks.check_every_change_is_guarded(self.commands)

    def test_ack_deadlines_match_service_timeouts(self):
        checks.check_ack_deadlines(self.commands, self.services, TRIGGER_SERVICE_COMBINED)

    def test_check_config_runs_the_processors_env_in_the_built_image(self):
        checks.check_env_parity(self.services, IMAGE_TAG)

    def test_the_build_deploys_the_combined_topology_and_is_skipped_when_it_runs_this_commit(self):
        subs = checks.check_build_is_guarded(self.commands, self.services)
        self.assertEqual(subs.get("_TOPOLOGY"), "combined")
        self.assertEqual(self.build["substitutions"]["_TOPOLOGY"], "four", "cloudbuild.yaml's default changed")

    def test_four_services_stay_the_default(self):
        default = m.parse_dry_run(dry_run("deploy.sh"))
        self.assertNotIn(PROCESSOR, dry_run("deploy.sh"))
        submit = next(c for c in default if c.path()[:2] == ["builds", "submit"])
        self.assertIn("_TOPOLOGY=four", submit.flag("substitutions"))

    def test_the_dry_run_shows_every_command_and_runs_none(self):
        fake_bin = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, fake_bin)
        marker = os.path.join(fake_bin, "called")
        with open(os.path.join(fake_bin, "gcloud"), "w", encoding="utf-8") as f:
            f.write(f"#!/bin/sh\necho \"$@\" >> {marker}\nexit 1\n")
        os.chmod(os.path.join(fake_bin, "gcloud"), stat.S_IRWXU)
        code, out, err = m.run_script("deploy.sh", "--project", PROJECT, "--dry-run", "--topology=combined",
                                      path_prefix=fake_bin)
        self.assertEqual(code, 0, err)
        self.assertFalse(os.path.exists(marker), "the dry run executed gcloud")
        self.assertEqual(out, self.out)

    def test_an_unknown_topology_and_combined_with_notifications_are_refused(self):
        code, _, err = m.run_script("deploy.sh", "--project", PROJECT, "--dry-run", "--topology", "two")
        self.assertEqual(code, 1)
        self.assertIn("--topology must be four or combined", err)
        code, _, err = m.run_script("deploy.sh", "--project", PROJECT, "--dry-run", "--topology", "combined",
                                    "--transport", "notifications")
        self.assertEqual(code, 1)
        self.assertIn("--topology combined needs --transport eventarc", err)

    def test_teardown_removes_either_topologys_services_and_triggers(self):
        commands = m.parse_dry_run(dry_run("teardown.sh"))
        deleted = {c.argv[4] for c in commands if c.path()[-1:] == ["delete"] and len(c.argv) > 4}
        self.assertLessEqual(set(TRIGGER_SERVICE_COMBINED) | {PROCESSOR}, deleted)
        self.assertIn(email(PROCESSOR), deleted)

    def test_a_root_trigger_on_a_service_without_both_routes_is_caught(self):
        self.assertIn("--destination-run-path=/ ", self.out)
        broken = m.parse_dry_run(self.out.replace("--destination-run-path=/ ", "--destination-run-path=/resize ", 1))
        with self.assertRaisesRegex(AssertionError, "thumbnail"):
            checks.check_every_service_has_its_triggers(broken, self.services, UPLOAD[5:], TOPIC_PATH)


class ChecksCatchBrokenWiring(unittest.TestCase):
    """Each check fails on a deliberately broken dry run, so none passes vacuously."""

    @classmethod
    def setUpClass(cls):
        cls.out = dry_run("deploy.sh")
        cls.services = m.cloudbuild_services(m.load_cloudbuild())

    def broken(self, old, new):
        self.assertIn(old, self.out)
        return m.parse_dry_run(self.out.replace(old, new, 1))

    def test_a_misspelled_trigger_path_is_caught(self):
        with self.assertRaisesRegex(AssertionError, "/resized"):
            checks.check_trigger_paths(self.broken("--destination-run-path=/resize", "--destination-run-path=/resized"), self.services)

    def test_a_missing_trigger_is_caught(self):
        commands = [c for c in m.parse_dry_run(self.out) if "image-pipeline-moderate-events" not in c.argv]
        with self.assertRaisesRegex(AssertionError, "missing"):
            checks.check_every_service_has_its_triggers(commands, self.services, UPLOAD[5:], TOPIC_PATH)

    def test_a_trigger_on_the_output_bucket_is_caught(self):
        commands = self.broken("--event-filters=bucket=demo-project-image-uploads", "--event-filters=bucket=demo-project-image-derived")
        with self.assertRaisesRegex(AssertionError, "upload bucket"):
            checks.check_every_service_has_its_triggers(commands, self.services, UPLOAD[5:], TOPIC_PATH)

    def test_an_extra_role_is_caught(self):
        commands = self.broken("--role=roles/datastore.user", "--role=roles/editor")
        with self.assertRaisesRegex(AssertionError, "basic role"):
            checks.check_least_roles(commands, EXPECTED_GRANTS)

    def test_an_unguarded_create_is_caught(self):
        line = next(l for l in self.out.splitlines() if "pubsub topics create image-pipeline-events" in l)
        action = re.search(r"then (.*); fi$", line)[1]
        commands = m.parse_dry_run(self.out.replace(line, "+ " + action))
        with self.assertRaisesRegex(AssertionError, "unguarded"):
            checks.check_every_change_is_guarded(commands)

    def test_a_notification_without_the_prefix_is_caught(self):
        out = dry_run("deploy.sh", "--transport", "notifications")
        commands = m.parse_dry_run(out.replace(" --object-prefix=incoming/", "", 1))
        with self.assertRaisesRegex(AssertionError, "prefix"):
            checks.check_bucket_notification(commands, UPLOAD[5:], f"projects/{PROJECT}/topics/{UPLOADS_TOPIC}", "incoming/")

    def test_a_push_subscription_without_oidc_or_dead_letters_is_caught(self):
        out = dry_run("deploy.sh", "--transport", "notifications")
        topics = {"uploads": f"projects/{PROJECT}/topics/{UPLOADS_TOPIC}", "events": TOPIC_PATH}
        for old, new, reason in [
            ("--push-auth-service-account=image-pipeline-trigger@", "--push-auth-service-account=someone-else@", "OIDC"),
            (" --dead-letter-topic=projects/demo-project/topics/image-pipeline-dead-letter --max-delivery-attempts=10 --expiration",
             " --expiration", "dead-letter"),
            ("<URL_OF_image-recorder>/record", "<URL_OF_image-recorder>/resize", "only enables"),
        ]:
            self.assertIn(old, out)
            commands = m.parse_dry_run(out.replace(old, new, 1))
            with self.assertRaisesRegex(AssertionError, reason):
                checks.check_push_subscriptions(commands, self.services, topics, email("image-pipeline-trigger"))

    def test_a_project_wide_publisher_for_cloud_storage_is_caught_in_the_notifications_transport(self):
        out = dry_run("deploy.sh", "--transport", "notifications")
        topic_grant = next(l for l in out.splitlines()
                           if f"pubsub topics add-iam-policy-binding {UPLOADS_TOPIC}" in l)
        project_wide = topic_grant.replace(f"pubsub topics add-iam-policy-binding {UPLOADS_TOPIC}",
                                           f"projects add-iam-policy-binding {PROJECT}")
        commands = m.parse_dry_run(out.replace(topic_grant, project_wide))
        with self.assertRaisesRegex(AssertionError, "unexpected"):
            checks.check_least_roles(commands, EXPECTED_GRANTS_NOTIFICATIONS)

    def test_a_public_service_is_caught(self):
        with self.assertRaisesRegex(AssertionError, "allUsers"):
            checks.check_no_service_is_public(self.services, ["--member=allUsers"])


@unittest.skipUnless(shutil.which("gcloud"), "gcloud is not installed: flag names not checked against gcloud --help")
class FlagsExistInGcloud(unittest.TestCase):
    """Every flag the deployment passes is one gcloud documents (offline: --help only)."""

    def test_every_flag_is_known_to_gcloud(self):
        commands = (m.parse_dry_run(dry_run("deploy.sh")) + m.parse_dry_run(dry_run("teardown.sh"))
                    + m.parse_dry_run(dry_run("deploy.sh", "--transport", "notifications"))
                    + m.parse_dry_run(dry_run("deploy.sh", "--metrics"))
                    + m.parse_dry_run(dry_run("deploy.sh", "--topology", "combined")))
        build = m.load_cloudbuild()
        for svc in (m.cloudbuild_services(build) | m.cloudbuild_services(build, "combined")).values():
            commands.append(m.Command(svc.deploy_argv))
        wanted = {}
        for cmd in commands:
            for argv in filter(None, [cmd.argv, cmd.guard]):
                c = m.Command(argv)
                if c.path():
                    wanted.setdefault(tuple(c.path()), set()).update(c.flags())
        # A throwaway config: no account, no prompts, no update check, no usage reports.
        config_dir = tempfile.TemporaryDirectory(prefix="gcloud-help-")
        self.addCleanup(config_dir.cleanup)
        env = dict(os.environ, CLOUDSDK_CORE_DISABLE_PROMPTS="1", CLOUDSDK_CONFIG=config_dir.name,
                   CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK="true",
                   CLOUDSDK_CORE_DISABLE_USAGE_REPORTING="true")

        # Help pages are cached per gcloud version: a cold run takes a minute or two.
        sdk_root = os.path.dirname(os.path.dirname(os.path.realpath(shutil.which("gcloud"))))
        try:
            with open(os.path.join(sdk_root, "VERSION"), encoding="utf-8") as f:
                version = f.read().strip()
        except OSError:
            version = None
        cache = os.path.join(os.environ.get("IMAGE_PIPELINE_CACHE", os.path.expanduser("~/.cache/image-pipeline")),
                             "gcloud-help", version or "unversioned")

        def known_flags(path):
            cached = os.path.join(cache, "_".join(path) + ".txt")
            if version and os.path.exists(cached):
                with open(cached, encoding="utf-8") as f:
                    text = f.read()
            else:
                text = subprocess.run(["gcloud", *path, "--help"], capture_output=True, text=True,
                                      env=env, timeout=120, check=False).stdout
                if version and "--help" in text:
                    os.makedirs(cache, exist_ok=True)
                    with open(cached, "w", encoding="utf-8") as f:
                        f.write(text)
            text = re.sub(r"\x1b\[[0-9;]*m", "", text)
            known = set(re.findall(r"--(?:\[no-\])?([a-z0-9-]+)", text))
            return known | {"no-" + k for k in re.findall(r"--\[no-\]([a-z0-9-]+)", text)}

        # gcloud takes seconds to start; ask for the help pages a few at a time.
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            known = dict(zip(wanted, pool.map(known_flags, wanted)))
        for path, flags in sorted(wanted.items()):
            missing = sorted(f for f in flags if f not in known[path])
            self.assertFalse(missing, f"gcloud {' '.join(path)} has no flag(s) {missing}")

class MetricsSidecarOptIn(unittest.TestCase):
    """deploy.sh --metrics: the Managed Service for Prometheus sidecar, and nothing without it."""

    def test_without_the_flag_no_service_gets_a_sidecar(self):
        self.assertNotIn("--container=collector", dry_run("deploy.sh"))

    def test_with_the_flag_every_service_gets_the_sidecar_once_guarded_by_a_read(self):
        commands = m.parse_dry_run(dry_run("deploy.sh", "--metrics"))
        sidecars = [c for c in commands if "--container=collector" in c.argv]
        services = sorted(c.argv[4] for c in sidecars)
        self.assertEqual(services, sorted(m.cloudbuild_services(m.load_cloudbuild())))
        for c in sidecars:
            self.assertEqual(c.argv[:4], ["gcloud", "run", "services", "update"])
            self.assertIsNotNone(c.guard, "the sidecar update runs even when it is in place")
            self.assertTrue(any("cloud-run-gmp-sidecar" in a for a in c.argv))


if __name__ == "__main__":
    unittest.main()
