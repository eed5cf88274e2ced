#!/usr/bin/env bash
# Removes what deploy.sh created, in reverse order. Safe to run twice: every delete
# is guarded by a describe, every revoke by a policy read.
#
# Owns: the order of deletion and what is kept unless asked.
# Must not: delete buckets (the uploads and their derived images) or the Firestore
# database unless told to: buckets only with --delete-buckets, Firestore never (it is
# one per project and may hold other data; the command to clear the collection is
# printed instead).
#
# Usage: deploy/teardown.sh --project PROJECT_ID [--region REGION] [--dry-run]
#                           [--same-bucket] [--delete-buckets]
# The same environment overrides as deploy.sh (deploy/config.sh).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT_ID="${PROJECT_ID:-${GOOGLE_CLOUD_PROJECT:-}}"
delete_buckets=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --project) PROJECT_ID="$2"; shift 2 ;;
    --project=*) PROJECT_ID="${1#*=}"; shift ;;
    --region) REGION="$2"; shift 2 ;;
    --region=*) REGION="${1#*=}"; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    --same-bucket) OUTPUT_BUCKET=""; shift ;;
    --delete-buckets) delete_buckets=1; shift ;;
    -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
[[ -n "$PROJECT_ID" ]] || { echo "error: --project PROJECT_ID is required" >&2; exit 2; }

# shellcheck source=deploy/lib.sh
source "$here/lib.sh"
# shellcheck source=deploy/config.sh
source "$here/config.sh"
if ! ((DRY_RUN)); then
  command -v gcloud >/dev/null || die "gcloud is not installed"
fi

P=(--project="$PROJECT_ID")
trigger_sa="$(sa_email "$TRIGGER_SA_NAME")"
build_sa="$(sa_email "$BUILD_SA_NAME")"

log "image-pipeline teardown: project=$PROJECT_ID region=$REGION dry-run=$DRY_RUN delete-buckets=$delete_buckets"

# Triggers first: deleting one also deletes its Eventarc-made subscription, so no
# event is pushed to a service that is about to disappear. Both topologies' triggers and
# services: each delete is guarded by a describe, so what was never made is left alone.
for entry in "${ALL_TRIGGERS[@]}"; do
  IFS='|' read -r name _ <<<"$entry"
  ensure --expect "" gcloud eventarc triggers describe "$name" --location="$REGION" "${P[@]}" --format='value(name)' \
    -- gcloud eventarc triggers delete "$name" --location="$REGION" "${P[@]}" --quiet
done

# shellcheck source=deploy/transport_notifications.sh
source "$here/transport_notifications.sh"
notifications_teardown

for svc in "${ALL_SERVICES[@]}"; do
  ensure --expect "" gcloud run services describe "$svc" --region="$REGION" "${P[@]}" --format='value(metadata.name)' \
    -- gcloud run services delete "$svc" --region="$REGION" "${P[@]}" --quiet
done

# Project-level bindings outlive their service accounts as "deleted:" members, so
# remove them before the accounts. Resource-level bindings go with their resources.
for svc in "${ALL_SERVICES[@]}"; do
  revoke project "serviceAccount:$(sa_email "$svc")" roles/datastore.user
done
revoke project "serviceAccount:$trigger_sa" roles/eventarc.eventReceiver
revoke project "serviceAccount:$build_sa" roles/run.developer
revoke project "serviceAccount:$build_sa" roles/logging.logWriter
# The storage agent's publisher role is left alone: other storage triggers or
# notifications in the project may rely on it. Remove it by hand if none do:
log "  kept: roles/pubsub.publisher of the Cloud Storage service agent (gcloud storage service-agent --project=$PROJECT_ID)"

for name in "${ALL_SERVICES[@]}" "$TRIGGER_SA_NAME" "$BUILD_SA_NAME"; do
  ensure --expect "" gcloud iam service-accounts describe "$(sa_email "$name")" "${P[@]}" --format='value(email)' \
    -- gcloud iam service-accounts delete "$(sa_email "$name")" "${P[@]}" --quiet
done

ensure --expect "" gcloud pubsub subscriptions describe "$DLQ_SUBSCRIPTION" "${P[@]}" --format='value(name)' \
  -- gcloud pubsub subscriptions delete "$DLQ_SUBSCRIPTION" "${P[@]}" --quiet
for topic in "$DLQ_TOPIC" "$TOPIC"; do
  ensure --expect "" gcloud pubsub topics describe "$topic" "${P[@]}" --format='value(name)' \
    -- gcloud pubsub topics delete "$topic" "${P[@]}" --quiet
done

ensure --expect "" gcloud artifacts repositories describe "$REPO" --location="$REGION" "${P[@]}" --format='value(name)' \
  -- gcloud artifacts repositories delete "$REPO" --location="$REGION" "${P[@]}" --quiet

ensure --expect "" gcloud storage buckets describe "gs://$BUILD_BUCKET" "${P[@]}" --format='value(name)' \
  -- gcloud storage rm --recursive "gs://$BUILD_BUCKET" "${P[@]}"
if ((delete_buckets)); then
  for bucket in "$UPLOAD_BUCKET" ${OUTPUT_BUCKET:+"$OUTPUT_BUCKET"}; do
    ensure --expect "" gcloud storage buckets describe "gs://$bucket" "${P[@]}" --format='value(name)' \
      -- gcloud storage rm --recursive "gs://$bucket" "${P[@]}"
  done
  # The signing key goes with the objects it signed (kept otherwise: a redeploy must
  # still recognise the outputs already in the buckets).
  ensure --expect "" gcloud secrets describe "$SIGNING_KEY_SECRET" "${P[@]}" --format='value(name)' \
    -- gcloud secrets delete "$SIGNING_KEY_SECRET" "${P[@]}" --quiet
else
  log "  kept: gs://$UPLOAD_BUCKET${OUTPUT_BUCKET:+ and gs://$OUTPUT_BUCKET} and the signing key secret $SIGNING_KEY_SECRET (pass --delete-buckets to delete them and every object in them)"
fi
log "  kept: Firestore collection '$COLLECTION'. To clear it:"
log "    gcloud firestore bulk-delete --collection-ids=$COLLECTION --project=$PROJECT_ID"
log "done."
