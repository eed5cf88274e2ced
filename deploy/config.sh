# shellcheck shell=bash
# The tables below are read by the scripts that source this file.
# shellcheck disable=SC2034
# Names and tables for deploy.sh and teardown.sh: what gets created, and the wiring
# between buckets, topics, services and routes.
# Owns: every resource name and every IAM role the deployment grants.
# Must not: run anything. Sourced after the command line is parsed.
#
# Every value can be overridden from the environment (e.g. REGION=europe-west1).
# cloudbuild.yaml repeats the service names, routes and timeouts;
# deploy/test_deploy.sh checks that the two agree.

: "${REGION:=us-central1}"
: "${REPO:=image-pipeline}" # Artifact Registry (docker) repository
: "${UPLOAD_BUCKET:=${PROJECT_ID}-image-uploads}"
# Derived images (resized, thumbnails, quarantined copies) go to a second bucket by
# default: no upload lands there, so no upload can pass for an output, and the watched
# bucket sees no derived objects. --same-bucket (OUTPUT_BUCKET="") keeps everything in
# one bucket: outputs are then told from uploads by their signature (SIGNING_KEY_SECRET),
# and each costs three skipped invocations.
if [[ -z "${OUTPUT_BUCKET+set}" ]]; then OUTPUT_BUCKET="${PROJECT_ID}-image-derived"; fi
# Secret Manager secret holding derived.signing_key (PIPELINE_DERIVED__SIGNING_KEY): made
# once by deploy.sh from random bytes, read by every service; never printed.
: "${SIGNING_KEY_SECRET:=image-pipeline-derived-signing-key}"
: "${BUILD_BUCKET:=${PROJECT_ID}-image-pipeline-build}" # Cloud Build source staging
: "${TOPIC:=image-pipeline-events}"                      # PIPELINE_PIPELINE__TOPIC
: "${DLQ_TOPIC:=image-pipeline-dead-letter}"
: "${DLQ_SUBSCRIPTION:=image-pipeline-dead-letter-sub}"
: "${COLLECTION:=images}"           # PIPELINE_RECORDS__COLLECTION
# The idempotency ledger's collection: records.ledger_collection, left at its default by
# cloudbuild.yaml, so it is fixed here (deploy/test_deploy.py checks the two agree).
readonly LEDGER_COLLECTION=image-pipeline-ledger
: "${MODERATION_POLICY:=record}"    # record | quarantine | blur
: "${MAX_DELIVERY_ATTEMPTS:=10}"    # then the event goes to the dead-letter topic
: "${DLQ_RETENTION:=7d}"            # how long dead letters wait for an operator

readonly TRIGGER_SA_NAME=image-pipeline-trigger # identity Eventarc pushes events with
readonly BUILD_SA_NAME=image-pipeline-build     # identity Cloud Build deploys with

# The deployment's shape (deploy.sh --topology; checked there):
#   four      one service per route (the default)
#   combined  resize and thumbnail in one service, image-processor, behind one storage
#             trigger per event type on `/`: each upload is downloaded and decoded once
#             for both (docs/deploy.md, "The combined topology"; cost: docs/cost.md)
: "${TOPOLOGY:=four}"

# Cloud Run services, in deploy order. Each runs as a service account of the same name.
if [[ "$TOPOLOGY" == combined ]]; then
  readonly SERVICES=(image-processor content-moderator image-recorder)
else
  readonly SERVICES=(image-resizer image-thumbnailer content-moderator image-recorder)
fi
# Every service either topology makes: teardown removes whichever exist.
readonly ALL_SERVICES=(image-resizer image-thumbnailer image-processor content-moderator image-recorder)

# service -> the routes it serves (PIPELINE_ROUTES)
service_route() {
  case "$1" in
    image-resizer) echo resize ;;
    image-thumbnailer) echo thumbnail ;;
    image-processor) echo resize,thumbnail ;;
    content-moderator) echo moderate ;;
    image-recorder) echo record ;;
    *) return 1 ;;
  esac
}

# service -> Cloud Run request timeout in seconds; the same value becomes the ack
# deadline of its Eventarc subscriptions, so Pub/Sub does not redeliver an event
# while the service is still working on it. Must match cloudbuild.yaml --timeout.
service_timeout_secs() {
  case "$1" in
    image-resizer | image-processor) echo 300 ;;
    image-thumbnailer) echo 120 ;;
    content-moderator) echo 120 ;;
    image-recorder) echo 60 ;;
    *) return 1 ;;
  esac
}

readonly STORAGE_FINALIZED=google.cloud.storage.object.v1.finalized
readonly STORAGE_DELETED=google.cloud.storage.object.v1.deleted
readonly PUBSUB_PUBLISHED=google.cloud.pubsub.topic.v1.messagePublished

# Eventarc triggers: name|service|path|event type|source. Storage triggers watch the
# upload bucket only, never the output bucket; Pub/Sub triggers read the pipeline
# topic the services publish image.* events to. `/` runs every route of the service
# that takes the event, one after the other, sharing one download and one decode.
readonly TRIGGERS_FOUR=(
  "image-pipeline-resize-finalized|image-resizer|/resize|$STORAGE_FINALIZED|storage"
  "image-pipeline-resize-deleted|image-resizer|/resize|$STORAGE_DELETED|storage"
  "image-pipeline-thumbnail-finalized|image-thumbnailer|/thumbnail|$STORAGE_FINALIZED|storage"
  "image-pipeline-thumbnail-deleted|image-thumbnailer|/thumbnail|$STORAGE_DELETED|storage"
)
readonly TRIGGERS_COMBINED=(
  "image-pipeline-process-finalized|image-processor|/|$STORAGE_FINALIZED|storage"
  "image-pipeline-process-deleted|image-processor|/|$STORAGE_DELETED|storage"
)
readonly TRIGGERS_SHARED=(
  "image-pipeline-record-finalized|image-recorder|/record|$STORAGE_FINALIZED|storage"
  "image-pipeline-record-deleted|image-recorder|/record|$STORAGE_DELETED|storage"
  "image-pipeline-moderate-events|content-moderator|/moderate|$PUBSUB_PUBLISHED|pubsub"
  "image-pipeline-record-events|image-recorder|/record|$PUBSUB_PUBLISHED|pubsub"
)
if [[ "$TOPOLOGY" == combined ]]; then
  readonly TRIGGERS=("${TRIGGERS_COMBINED[@]}" "${TRIGGERS_SHARED[@]}")
else
  readonly TRIGGERS=("${TRIGGERS_FOUR[@]}" "${TRIGGERS_SHARED[@]}")
fi
# Every trigger either topology makes: teardown removes whichever exist.
readonly ALL_TRIGGERS=("${TRIGGERS_FOUR[@]}" "${TRIGGERS_COMBINED[@]}" "${TRIGGERS_SHARED[@]}")

# APIs the deployment uses. Vision is called by content-moderator only.
readonly APIS=(
  run.googleapis.com eventarc.googleapis.com pubsub.googleapis.com
  storage.googleapis.com firestore.googleapis.com vision.googleapis.com
  artifactregistry.googleapis.com cloudbuild.googleapis.com iam.googleapis.com
  logging.googleapis.com secretmanager.googleapis.com
)

sa_email() { echo "$1@${PROJECT_ID}.iam.gserviceaccount.com"; }

# Storage role each runtime identity needs on the upload bucket. Resizer and
# thumbnailer only read sources when outputs go to their own bucket; the moderator
# writes only when its policy moves or blurs flagged images; the recorder reads the
# first bytes of each upload (to keep records for images only).
# (Firestore: every service gets roles/datastore.user, because the idempotency ledger
# that answers `duplicate` lives in the records backend, Firestore in the gcp profile.)
upload_bucket_role() {
  local writes_outputs_here=0
  [[ -z "$OUTPUT_BUCKET" ]] && writes_outputs_here=1
  case "$1" in
    image-resizer | image-thumbnailer | image-processor)
      ((writes_outputs_here)) && echo roles/storage.objectUser || echo roles/storage.objectViewer
      ;;
    content-moderator)
      [[ "$MODERATION_POLICY" == record ]] && echo roles/storage.objectViewer || echo roles/storage.objectUser
      ;;
    image-recorder) echo roles/storage.objectViewer ;;
    *) echo "" ;;
  esac
}

# Storage role on the separate output bucket (when there is one). The moderator
# reads the resized variant it moderates (moderation.trigger = resized) and, with
# the quarantine or blur policy, moves or replaces variants.
output_bucket_role() {
  case "$1" in
    image-resizer | image-thumbnailer | image-processor) echo roles/storage.objectUser ;;
    content-moderator)
      [[ "$MODERATION_POLICY" == record ]] && echo roles/storage.objectViewer || echo roles/storage.objectUser
      ;;
    *) echo "" ;;
  esac
}

# Services that publish image.* events to the pipeline topic.
publishes_events() { [[ "$1" != image-recorder ]]; }
