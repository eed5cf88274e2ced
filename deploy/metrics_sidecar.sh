# shellcheck shell=bash
# Opt-in (deploy.sh --metrics): adds Google Cloud Managed Service for Prometheus' Cloud Run
# sidecar to every service, so GET /metrics is scraped into Cloud Monitoring
# (https://cloud.google.com/stackdriver/docs/managed-prometheus/cloudrun-sidecar).
# The sidecar's default config scrapes localhost:8080/metrics every 60 s, which is this
# service's port and path. Owns only that one update per service; sourced by deploy.sh.
# Must not: change anything when --metrics is not given, or touch the app container.

: "${GMP_SIDECAR_IMAGE:=us-docker.pkg.dev/cloud-ops-agents-artifacts/cloud-run-gmp-sidecar/cloud-run-gmp-sidecar:1.2.0}"

phase_metrics() {
  log "== metrics: the Managed Service for Prometheus sidecar on every service"
  local svc
  for svc in "${SERVICES[@]}"; do
    # Guard: the second container's image; the update runs only when it differs.
    ensure --expect "$GMP_SIDECAR_IMAGE" \
      gcloud run services describe "$svc" --region="$REGION" "${P[@]}" \
      --format='value(spec.template.spec.containers[1].image)' \
      -- gcloud run services update "$svc" --region="$REGION" "${P[@]}" \
      --container=collector --image="$GMP_SIDECAR_IMAGE" --cpu=1 --memory=512Mi
  done
}
