# shellcheck shell=bash
# trigger_sa, P, GCS_AGENT and PROJECT_NUMBER are set by deploy.sh before these run.
# shellcheck disable=SC2154
# The opt-in transport without Eventarc (deploy.sh --transport notifications): a Cloud
# Storage notification on the upload bucket publishes to its own topic, and plain Pub/Sub
# push subscriptions, one per service and source, POST to each service with an OIDC token.
# The service turns each push into the CloudEvent Eventarc would have sent (src/events/push.rs).
#
# Owns: the notification, the uploads topic, the push subscriptions and the grants only
# this transport needs. Must not: touch Eventarc, or grant anything Eventarc needs.
# Sourced by deploy.sh after lib.sh and config.sh; every change is guarded by a read.

# The topic the bucket notification publishes to (the pipeline's own image.* events
# stay on $TOPIC).
: "${UPLOADS_TOPIC:=image-pipeline-uploads}"
# Only objects under this prefix are notified, so derived images written into the upload
# bucket (--same-bucket, or the quarantine/blur policies) never cost an invocation.
# Empty watches the whole bucket.
if [[ -z "${UPLOAD_PREFIX+set}" ]]; then UPLOAD_PREFIX="incoming/"; fi

# Push subscriptions: name|service|path|topic (uploads or events)|message filter.
# The moderator only acts on image.resized, so the others are filtered out before they
# cost an invocation (Eventarc's messagePublished triggers cannot filter on attributes).
readonly PUSH_SUBSCRIPTIONS=(
  "image-pipeline-resize-uploads|image-resizer|/resize|uploads|"
  "image-pipeline-thumbnail-uploads|image-thumbnailer|/thumbnail|uploads|"
  "image-pipeline-record-uploads|image-recorder|/record|uploads|"
  'image-pipeline-moderate-events|content-moderator|/moderate|events|attributes.eventType = "image.resized"'
  "image-pipeline-record-events|image-recorder|/record|events|"
)

# infra: the uploads topic, and the one grant Cloud Storage needs to publish to it (on
# the topic only; the Eventarc transport grants it on the project instead).
notifications_infra() {
  ensure gcloud pubsub topics describe "$UPLOADS_TOPIC" "${P[@]}" --format='value(name)' \
    -- gcloud pubsub topics create "$UPLOADS_TOPIC" "${P[@]}"
  grant topic "$UPLOADS_TOPIC" "serviceAccount:$GCS_AGENT" roles/pubsub.publisher
}

# triggers: invoker rights, the bucket notification, and one push subscription per
# service and source, each with OIDC auth, its own retry and dead-letter policy, and the
# service's request timeout as its ack deadline.
phase_push_subscriptions() {
  log "== triggers (notifications transport): bucket notification, push subscriptions with OIDC, dead letters"
  [[ -n "${PROJECT_NUMBER:-}" ]] ||
    capture PROJECT_NUMBER '<PROJECT_NUMBER>' gcloud projects describe "$PROJECT_ID" --format='value(projectNumber)'
  pubsub_agent="service-${PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com"
  local svc
  for svc in "${SERVICES[@]}"; do
    grant run "$svc" "serviceAccount:$trigger_sa" roles/run.invoker
    capture "URL_${svc//-/_}" "<URL_OF_$svc>" gcloud run services describe "$svc" --region="$REGION" "${P[@]}" \
      --format='value(status.url)'
  done

  local uploads_path="projects/$PROJECT_ID/topics/$UPLOADS_TOPIC"
  local prefix_flag=()
  if [[ -n "$UPLOAD_PREFIX" ]]; then prefix_flag=(--object-prefix="$UPLOAD_PREFIX"); fi
  # The read prints topic;prefix;format of each notification on the bucket.
  ensure --absent-line "//pubsub.googleapis.com/$uploads_path;$UPLOAD_PREFIX;JSON_API_V1" \
    gcloud storage buckets notifications list "gs://$UPLOAD_BUCKET" "${P[@]}" \
    --format='value[separator=";"]("Notification Configuration".topic,"Notification Configuration".object_name_prefix,"Notification Configuration".payload_format)' \
    -- gcloud storage buckets notifications create "gs://$UPLOAD_BUCKET" "${P[@]}" --topic="$uploads_path" \
    --event-types=OBJECT_FINALIZE,OBJECT_DELETE --payload-format=json "${prefix_flag[@]}" --skip-topic-setup

  local entry
  for entry in "${PUSH_SUBSCRIPTIONS[@]}"; do
    push_subscription "$entry"
  done
}

# One push subscription: created with every setting, then converged if it drifted (a
# new service URL, timeout or dead-letter setting). A message filter cannot change after
# creation; delete the subscription to change it.
push_subscription() {
  local name service path source filter topic_name url_var url timeout
  IFS='|' read -r name service path source filter <<<"$1"
  topic_name="$TOPIC"
  if [[ "$source" == uploads ]]; then topic_name="$UPLOADS_TOPIC"; fi
  url_var="URL_${service//-/_}"
  url="${!url_var}"
  timeout="$(service_timeout_secs "$service")"
  local filter_flag=()
  if [[ -n "$filter" ]]; then filter_flag=(--message-filter="$filter"); fi
  local settings=(
    --push-endpoint="$url$path" --push-auth-service-account="$trigger_sa" --push-auth-token-audience="$url"
    --ack-deadline="$timeout" --min-retry-delay=10s --max-retry-delay=600s
    --dead-letter-topic="projects/$PROJECT_ID/topics/$DLQ_TOPIC" --max-delivery-attempts="$MAX_DELIVERY_ATTEMPTS"
  )
  ensure gcloud pubsub subscriptions describe "$name" "${P[@]}" --format='value(name)' \
    -- gcloud pubsub subscriptions create "$name" "${P[@]}" --topic="projects/$PROJECT_ID/topics/$topic_name" \
    "${settings[@]}" "${filter_flag[@]}" --expiration-period=never
  ensure --expect "$url$path;$timeout;projects/$PROJECT_ID/topics/$DLQ_TOPIC;$MAX_DELIVERY_ATTEMPTS" \
    gcloud pubsub subscriptions describe "$name" "${P[@]}" \
    --format='value[separator=";"](pushConfig.pushEndpoint,ackDeadlineSeconds,deadLetterPolicy.deadLetterTopic,deadLetterPolicy.maxDeliveryAttempts)' \
    -- gcloud pubsub subscriptions update "$name" "${P[@]}" "${settings[@]}"
  # Pub/Sub forwards to the dead-letter topic as its service agent, which must be able
  # to acknowledge the message on this subscription.
  grant subscription "$name" "serviceAccount:$pubsub_agent" roles/pubsub.subscriber
}

# teardown (whichever transport ran: every delete is guarded by a describe, so nothing
# happens where these do not exist). Subscriptions go first, so nothing is pushed to a
# service that is about to disappear.
notifications_teardown() {
  local entry name
  for entry in "${PUSH_SUBSCRIPTIONS[@]}"; do
    IFS='|' read -r name _ <<<"$entry"
    ensure --expect "" gcloud pubsub subscriptions describe "$name" "${P[@]}" --format='value(name)' \
      -- gcloud pubsub subscriptions delete "$name" "${P[@]}" --quiet
  done
  ensure --expect "" gcloud pubsub topics describe "$UPLOADS_TOPIC" "${P[@]}" --format='value(name)' \
    -- gcloud pubsub topics delete "$UPLOADS_TOPIC" "${P[@]}" --quiet
  # A notification is deleted by its generated name, which no dry run can show.
  log "  kept: a notification on gs://$UPLOAD_BUCKET, if --transport notifications made one; its topic is gone, so remove it:"
  log "    gcloud storage buckets notifications list gs://$UPLOAD_BUCKET  # then: gcloud storage buckets notifications delete <its name>"
}
