#!/usr/bin/env bash
# Deploys image-pipeline to a Google Cloud project: one image, four Cloud Run
# services, eight Eventarc triggers (docs/deploy.md walks through it); with
# --topology combined, three services (resize and thumbnail in one) and six triggers.
#
# Owns: the order of the phases and which resources each one creates.
# Must not: delete anything (teardown.sh does), grant more than config.sh lists, or
# change a resource that is already as wanted: every create/grant is guarded by a
# describe or a policy read, so a second run changes nothing.
#
# Usage: deploy/deploy.sh --project PROJECT_ID [--region REGION] [--dry-run]
#                         [--phase infra|build|triggers|metrics|all] [--same-bucket]
#                         [--allow-dirty] [--transport eventarc|notifications] [--metrics]
#                         [--topology four|combined]
#   --dry-run      print every command (guards included) and run none of them
#   --phase        run one phase only (default all: infra, then build, then triggers)
#   --same-bucket  write derived images into the upload bucket (default: a second bucket)
#   --allow-dirty  build even with uncommitted changes (the image is still tagged
#                  with HEAD, so avoid this outside experiments)
#   --transport    eventarc (default): Eventarc triggers; notifications: a Cloud Storage
#                  notification and plain push subscriptions (deploy/transport_notifications.sh)
#   --metrics      add the Managed Service for Prometheus sidecar (deploy/metrics_sidecar.sh)
#   --topology     four (default): one service per route; combined: resize and thumbnail
#                  in one service (image-processor) behind storage triggers on `/`, so
#                  each upload is downloaded and decoded once (Eventarc transport only)
# Other settings come from the environment, see deploy/config.sh.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/.." && pwd)"

PROJECT_ID="${PROJECT_ID:-${GOOGLE_CLOUD_PROJECT:-}}"
phase=all
allow_dirty=0
metrics=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --project) PROJECT_ID="$2"; shift 2 ;;
    --project=*) PROJECT_ID="${1#*=}"; shift ;;
    --region) REGION="$2"; shift 2 ;;
    --region=*) REGION="${1#*=}"; shift ;;
    --phase) phase="$2"; shift 2 ;;
    --phase=*) phase="${1#*=}"; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    --same-bucket) OUTPUT_BUCKET=""; shift ;;
    --allow-dirty) allow_dirty=1; shift ;;
    --transport) TRANSPORT="$2"; shift 2 ;;
    --transport=*) TRANSPORT="${1#*=}"; shift ;;
    --metrics) metrics=1; shift ;;
    --topology) TOPOLOGY="$2"; shift 2 ;;
    --topology=*) TOPOLOGY="${1#*=}"; shift ;;
    -h | --help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
[[ -n "$PROJECT_ID" ]] || { echo "error: --project PROJECT_ID is required" >&2; exit 2; }
case "$phase" in infra | build | triggers | metrics | all) ;; *) echo "error: unknown phase $phase" >&2; exit 2 ;; esac

# shellcheck source=deploy/lib.sh
source "$here/lib.sh"
[[ "${TOPOLOGY:=four}" =~ ^(four|combined)$ ]] || die "--topology must be four or combined"
# shellcheck source=deploy/config.sh
source "$here/config.sh"
[[ "$MODERATION_POLICY" =~ ^(record|quarantine|blur)$ ]] || die "MODERATION_POLICY must be record, quarantine or blur"
: "${TRANSPORT:=eventarc}"
[[ "$TRANSPORT" =~ ^(eventarc|notifications)$ ]] || die "--transport must be eventarc or notifications"
# The notifications transport's push subscriptions are per route; no push to `/` yet.
[[ "$TOPOLOGY" == four || "$TRANSPORT" == eventarc ]] || die "--topology combined needs --transport eventarc"
# shellcheck source=deploy/transport_notifications.sh
source "$here/transport_notifications.sh"
# shellcheck source=deploy/metrics_sidecar.sh
source "$here/metrics_sidecar.sh"

if ! ((DRY_RUN)); then
  command -v gcloud >/dev/null || die "gcloud is not installed (https://cloud.google.com/sdk/docs/install)"
fi

trigger_sa="$(sa_email "$TRIGGER_SA_NAME")"
build_sa="$(sa_email "$BUILD_SA_NAME")"
P=(--project="$PROJECT_ID")

phase_infra() {
  log "== infra: APIs, buckets, topics, Firestore, Artifact Registry, identities"
  local api
  for api in "${APIS[@]}"; do
    ensure gcloud services list --enabled "${P[@]}" --filter="config.name=$api" --format='value(config.name)' \
      -- gcloud services enable "$api" "${P[@]}"
  done
  capture PROJECT_NUMBER '<PROJECT_NUMBER>' gcloud projects describe "$PROJECT_ID" --format='value(projectNumber)'
  # Direct Cloud Storage triggers publish through this agent; asking for it creates it.
  capture GCS_AGENT '<GCS_SERVICE_AGENT>' gcloud storage service-agent "${P[@]}"
  pubsub_agent="service-${PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com"

  # Storage triggers must live in the bucket's region, hence --location=$REGION.
  local bucket
  for bucket in "$UPLOAD_BUCKET" ${OUTPUT_BUCKET:+"$OUTPUT_BUCKET"} "$BUILD_BUCKET"; do
    ensure gcloud storage buckets describe "gs://$bucket" "${P[@]}" --format='value(name)' \
      -- gcloud storage buckets create "gs://$bucket" "${P[@]}" --location="$REGION" \
      --uniform-bucket-level-access --public-access-prevention
  done

  ensure gcloud pubsub topics describe "$TOPIC" "${P[@]}" --format='value(name)' \
    -- gcloud pubsub topics create "$TOPIC" "${P[@]}"
  ensure gcloud pubsub topics describe "$DLQ_TOPIC" "${P[@]}" --format='value(name)' \
    -- gcloud pubsub topics create "$DLQ_TOPIC" "${P[@]}"
  # Without a subscription, dead-lettered events would be dropped on arrival.
  ensure gcloud pubsub subscriptions describe "$DLQ_SUBSCRIPTION" "${P[@]}" --format='value(name)' \
    -- gcloud pubsub subscriptions create "$DLQ_SUBSCRIPTION" "${P[@]}" --topic="$DLQ_TOPIC" \
    --message-retention-duration="$DLQ_RETENTION" --expiration-period=never
  grant topic "$DLQ_TOPIC" "serviceAccount:$pubsub_agent" roles/pubsub.publisher
  if [[ "$TRANSPORT" == notifications ]]; then notifications_infra; fi

  # The key that signs derived objects, so outputs sharing a bucket with uploads are
  # told apart from uploads that only look like them. Made once, here, from random
  # bytes read on stdin (never an argument, never printed); kept on later runs, since
  # outputs signed with it must stay recognised.
  ensure gcloud secrets describe "$SIGNING_KEY_SECRET" "${P[@]}" --format='value(name)' \
    -- gcloud secrets create "$SIGNING_KEY_SECRET" "${P[@]}" --replication-policy=automatic \
    --data-file=- < <(new_signing_key)

  ensure gcloud firestore databases describe --database='(default)' "${P[@]}" --format='value(name)' \
    -- gcloud firestore databases create --database='(default)' --location="$REGION" --type=firestore-native "${P[@]}"
  # Ledger entries (handled events, so redeliveries answer `duplicate`) carry `expireAt`,
  # 7 days after they were written; this TTL policy lets Firestore delete them, so the
  # ledger does not grow forever. --async: the policy takes minutes to become active.
  ensure --absent-line "projects/$PROJECT_ID/databases/(default)/collectionGroups/$LEDGER_COLLECTION/fields/expireAt" \
    gcloud firestore fields ttls list --collection-group="$LEDGER_COLLECTION" --database='(default)' "${P[@]}" \
    --filter='name:expireAt' --format='value(name)' \
    -- gcloud firestore fields ttls update expireAt --collection-group="$LEDGER_COLLECTION" \
    --database='(default)' --enable-ttl --async "${P[@]}"

  ensure gcloud artifacts repositories describe "$REPO" --location="$REGION" "${P[@]}" --format='value(name)' \
    -- gcloud artifacts repositories create "$REPO" --repository-format=docker --location="$REGION" "${P[@]}" \
    --description='image-pipeline container images'

  local name
  for name in "${SERVICES[@]}" "$TRIGGER_SA_NAME" "$BUILD_SA_NAME"; do
    ensure gcloud iam service-accounts describe "$(sa_email "$name")" "${P[@]}" --format='value(email)' \
      -- gcloud iam service-accounts create "$name" "${P[@]}" --display-name="image-pipeline $name"
  done

  phase_infra_roles
}

# The least roles each identity needs, each on the narrowest resource that works.
phase_infra_roles() {
  local svc member role
  for svc in "${SERVICES[@]}"; do
    member="serviceAccount:$(sa_email "$svc")"
    role="$(upload_bucket_role "$svc")"
    [[ -n "$role" ]] && grant bucket "gs://$UPLOAD_BUCKET" "$member" "$role"
    role="$(output_bucket_role "$svc")"
    [[ -n "$OUTPUT_BUCKET" && -n "$role" ]] && grant bucket "gs://$OUTPUT_BUCKET" "$member" "$role"
    publishes_events "$svc" && grant topic "$TOPIC" "$member" roles/pubsub.publisher
    # Every route tells outputs from uploads, so every service reads the signing key.
    grant secret "$SIGNING_KEY_SECRET" "$member" roles/secretmanager.secretAccessor
    # Cloud Build deploys each service to run as its identity.
    grant sa "$(sa_email "$svc")" "serviceAccount:$build_sa" roles/iam.serviceAccountUser
  done
  # Firestore has no per-collection IAM; datastore.user is its smallest read/write role.
  # Every route needs it: the recorder for the records, all of them for the ledger
  # of handled events that makes redeliveries answer `duplicate`.
  for svc in "${SERVICES[@]}"; do
    grant project "serviceAccount:$(sa_email "$svc")" roles/datastore.user
  done
  if [[ "$TRANSPORT" == eventarc ]]; then
    # Direct events (Cloud Storage) reach a trigger only if its identity is an event receiver.
    grant project "serviceAccount:$trigger_sa" roles/eventarc.eventReceiver
    # Cloud Storage publishes its object events to Pub/Sub as this agent.
    grant project "serviceAccount:$GCS_AGENT" roles/pubsub.publisher
  fi
  # Pub/Sub mints the OIDC token of each push as the trigger identity (granted
  # automatically only in projects created after April 2021).
  grant sa "$trigger_sa" "serviceAccount:$pubsub_agent" roles/iam.serviceAccountTokenCreator
  # Cloud Build: read the uploaded source, push the image, deploy, write logs.
  grant bucket "gs://$BUILD_BUCKET" "serviceAccount:$build_sa" roles/storage.objectViewer
  grant repo "$REPO" "serviceAccount:$build_sa" roles/artifactregistry.writer
  grant project "serviceAccount:$build_sa" roles/run.developer
  grant project "serviceAccount:$build_sa" roles/logging.logWriter
  # check-config runs each service's settings, the signing key included, in the build.
  grant secret "$SIGNING_KEY_SECRET" "serviceAccount:$build_sa" roles/secretmanager.secretAccessor
}

# 48 random bytes, base64: a derived.signing_key (at least 32 bytes). A dry run makes none.
new_signing_key() {
  ((DRY_RUN)) && return 0
  head -c 48 /dev/urandom | base64 | tr -d '\n'
}

# Build, check and deploy in Cloud Build (cloudbuild.yaml; _TOPOLOGY picks which services
# it deploys). Skipped when every service of the topology already runs this commit, so a
# second run changes nothing.
phase_build() {
  log "== build: Cloud Build builds the image once, runs check-config per service, deploys the $TOPOLOGY topology's services"
  local commit svc current at_commit=1
  if ((DRY_RUN)); then
    commit="$(git -C "$repo_root" rev-parse HEAD 2>/dev/null || echo '<COMMIT_SHA>')"
  else
    commit="$(git -C "$repo_root" rev-parse HEAD)" || die "deploy from a git checkout: the image is tagged with the commit"
    if [[ -n "$(git -C "$repo_root" status --porcelain)" ]] && ! ((allow_dirty)); then
      die "uncommitted changes: commit them (the image is tagged with HEAD) or pass --allow-dirty"
    fi
  fi
  for svc in "${SERVICES[@]}"; do
    printf '+ %s  # guard: skip the build if all of them print %s\n' "$(show gcloud run services describe "$svc" \
      --region="$REGION" "${P[@]}" --format='value(metadata.labels.commit-sha)')" "$commit"
    if ((DRY_RUN)); then
      at_commit=0
    else
      current="$(gcloud run services describe "$svc" --region="$REGION" "${P[@]}" \
        --format='value(metadata.labels.commit-sha)' 2>/dev/null || true)"
      [[ "$current" == "$commit" ]] || at_commit=0
    fi
  done
  if ((at_commit)); then
    log "  all services already run commit $commit"
    return 0
  fi
  run gcloud builds submit "$repo_root" "${P[@]}" --region="$REGION" --config="$repo_root/cloudbuild.yaml" \
    --service-account="projects/$PROJECT_ID/serviceAccounts/$build_sa" \
    --gcs-source-staging-dir="gs://$BUILD_BUCKET/source" \
    --substitutions="COMMIT_SHA=$commit,_REGION=$REGION,_REPO=$REPO,_TOPIC=$TOPIC,_COLLECTION=$COLLECTION,_OUTPUT_BUCKET=$OUTPUT_BUCKET,_MODERATION_POLICY=$MODERATION_POLICY,_SIGNING_KEY_SECRET=$SIGNING_KEY_SECRET,_TOPOLOGY=$TOPOLOGY"
}

phase_triggers() {
  if [[ "$TRANSPORT" == notifications ]]; then
    phase_push_subscriptions
    return
  fi
  log "== triggers: invoker rights, Eventarc triggers, retry and dead-letter settings"
  [[ -n "${PROJECT_NUMBER:-}" ]] ||
    capture PROJECT_NUMBER '<PROJECT_NUMBER>' gcloud projects describe "$PROJECT_ID" --format='value(projectNumber)'
  pubsub_agent="service-${PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com"
  local svc entry name service path type source filters timeout var
  for svc in "${SERVICES[@]}"; do
    grant run "$svc" "serviceAccount:$trigger_sa" roles/run.invoker
  done
  for entry in "${TRIGGERS[@]}"; do
    IFS='|' read -r name service path type source <<<"$entry"
    if [[ "$source" == storage ]]; then
      filters=(--event-filters="type=$type" --event-filters="bucket=$UPLOAD_BUCKET")
    else
      filters=(--event-filters="type=$type" --transport-topic="projects/$PROJECT_ID/topics/$TOPIC")
    fi
    ensure gcloud eventarc triggers describe "$name" --location="$REGION" "${P[@]}" --format='value(name)' \
      -- gcloud eventarc triggers create "$name" --location="$REGION" "${P[@]}" \
      --destination-run-service="$service" --destination-run-region="$REGION" \
      --destination-run-path="$path" "${filters[@]}" --service-account="$trigger_sa"

    # Retries stay on: the service answers 200 to events that can never succeed
    # (rejected, skipped, duplicate) and 503 only to transient failures, so what is
    # retried can still succeed. Pub/Sub backs off 10 s..600 s; after
    # MAX_DELIVERY_ATTEMPTS the event goes to the dead-letter topic instead of being
    # retried for 24 h and dropped. The ack deadline equals the service's request
    # timeout so a slow but healthy request is not delivered twice.
    var="SUB_${name//-/_}"
    capture "$var" "<SUBSCRIPTION_OF_$name>" gcloud eventarc triggers describe "$name" --location="$REGION" "${P[@]}" \
      --format='value(transport.pubsub.subscription)'
    timeout="$(service_timeout_secs "$service")"
    grant subscription "${!var}" "serviceAccount:$pubsub_agent" roles/pubsub.subscriber
    ensure --expect "projects/$PROJECT_ID/topics/$DLQ_TOPIC;$MAX_DELIVERY_ATTEMPTS;$timeout" \
      gcloud pubsub subscriptions describe "${!var}" "${P[@]}" \
      --format='value[separator=";"](deadLetterPolicy.deadLetterTopic,deadLetterPolicy.maxDeliveryAttempts,ackDeadlineSeconds)' \
      -- gcloud pubsub subscriptions update "${!var}" "${P[@]}" \
      --dead-letter-topic="projects/$PROJECT_ID/topics/$DLQ_TOPIC" --max-delivery-attempts="$MAX_DELIVERY_ATTEMPTS" \
      --min-retry-delay=10s --max-retry-delay=600s --ack-deadline="$timeout"
  done
}

log "image-pipeline deploy: project=$PROJECT_ID region=$REGION upload=gs://$UPLOAD_BUCKET output=${OUTPUT_BUCKET:+gs://$OUTPUT_BUCKET}${OUTPUT_BUCKET:-"(upload bucket)"} topology=$TOPOLOGY transport=$TRANSPORT dry-run=$DRY_RUN"
case "$phase" in
  infra) phase_infra ;;
  build) phase_build ;;
  metrics) phase_metrics ;;
  triggers) phase_triggers ;;
  # One per line: inside `a && b` bash ignores set -e in a, and a failed grant
  # would not stop the deploy.
  all)
    phase_infra
    phase_build
    phase_triggers
    if ((metrics)); then
      phase_metrics
    fi
    ;;
esac
log "done. Watch it work: docs/deploy.md, section 'Watch it work'."
