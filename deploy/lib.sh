# shellcheck shell=bash
# Command helpers shared by deploy.sh and teardown.sh.
# Owns: how a command is shown, guarded and run, and the dry-run switch.
# Must not: know any resource name (those live in config.sh).
#
# In dry-run mode (DRY_RUN=1) nothing is executed, not even the read-only guards;
# every command is printed on one line starting with "+ ". A guarded command is
# printed as the shell it stands for, e.g.
#   + if [ -z "$(gcloud pubsub topics describe T --format=value(name))" ]; then gcloud pubsub topics create T; fi
# so a reviewer (and deploy/test_deploy.sh) can see that each create has its guard.
# Values only known at run time (the project number, an Eventarc subscription name)
# appear as <PLACEHOLDERS>.

DRY_RUN="${DRY_RUN:-0}"

# Quote one word for display so the printed line can be pasted into a shell.
q() {
  if [[ "$1" =~ ^[A-Za-z0-9_./:=@,+%-]+$ ]]; then
    printf '%s' "$1"
  else
    printf "'%s'" "${1//\'/\'\\\'\'}"
  fi
}

# Print an argv as one shell line.
show() {
  local out="" word
  for word in "$@"; do out+="$(q "$word") "; done
  printf '%s' "${out% }"
}

log() { printf '%s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# run CMD...: a command that changes something, or is safe to repeat as it is.
run() {
  printf '+ %s\n' "$(show "$@")"
  ((DRY_RUN)) && return 0
  "$@"
}

# ensure [--expect VALUE] GUARD... -- ACTION...
# Runs ACTION only when GUARD prints nothing (or, with --expect, prints something
# other than VALUE). GUARD is a read-only describe/list/get-iam-policy; its errors
# (typically "not found") count as "prints nothing".
ensure() {
  local expect="" has_expect=0 guard=() action=()
  if [[ "$1" == --expect ]]; then
    expect="$2"
    has_expect=1
    shift 2
  fi
  while [[ $# -gt 0 && "$1" != -- ]]; do
    guard+=("$1")
    shift
  done
  [[ "${1:-}" == -- ]] || die "ensure: missing -- between guard and action"
  shift
  action=("$@")
  # The $(...) below is printed for the reader, not expanded.
  # shellcheck disable=SC2016
  if ((has_expect)); then
    printf '+ if [ "$(%s)" != %s ]; then %s; fi\n' "$(show "${guard[@]}")" "$(q "$expect")" "$(show "${action[@]}")"
  else
    printf '+ if [ -z "$(%s)" ]; then %s; fi\n' "$(show "${guard[@]}")" "$(show "${action[@]}")"
  fi
  ((DRY_RUN)) && return 0
  local current
  current="$("${guard[@]}" 2>/dev/null || true)"
  if ((has_expect)); then
    [[ "$current" == "$expect" ]] && {
      log "  unchanged"
      return 0
    }
  else
    [[ -n "$current" ]] && {
      log "  exists"
      return 0
    }
  fi
  "${action[@]}"
}

# capture VAR PLACEHOLDER CMD...: VAR=$(CMD); in dry-run VAR=PLACEHOLDER.
capture() {
  local var="$1" placeholder="$2"
  shift 2
  # shellcheck disable=SC2016 # printed for the reader, not expanded
  printf '+ %s="$(%s)"\n' "$var" "$(show "$@")"
  if ((DRY_RUN)); then
    printf -v "$var" '%s' "$placeholder"
  else
    local value
    value="$("$@")" || die "could not read $var: $(show "$@")"
    [[ -n "$value" ]] || die "$var came back empty from: $(show "$@")"
    printf -v "$var" '%s' "$value"
  fi
}

# IAM bindings. Each is guarded by a read of the current policy, so a second run
# sends no setIamPolicy at all. KIND is the gcloud group that owns the resource.
#   grant project           MEMBER ROLE
#   grant bucket   gs://B   MEMBER ROLE
#   grant topic    T        MEMBER ROLE
#   grant subscription S    MEMBER ROLE
#   grant run      SERVICE  MEMBER ROLE
#   grant sa       EMAIL    MEMBER ROLE
#   grant repo     REPO     MEMBER ROLE
iam_cmd() {
  local kind="$1" verb="$2" resource="$3"
  case "$kind" in
    project) echo gcloud projects "$verb" "$PROJECT_ID" ;;
    bucket) echo gcloud storage buckets "$verb" "$resource" --project="$PROJECT_ID" ;;
    topic) echo gcloud pubsub topics "$verb" "$resource" --project="$PROJECT_ID" ;;
    subscription) echo gcloud pubsub subscriptions "$verb" "$resource" --project="$PROJECT_ID" ;;
    run) echo gcloud run services "$verb" "$resource" --region="$REGION" --project="$PROJECT_ID" ;;
    sa) echo gcloud iam service-accounts "$verb" "$resource" --project="$PROJECT_ID" ;;
    repo) echo gcloud artifacts repositories "$verb" "$resource" --location="$REGION" --project="$PROJECT_ID" ;;
    *) die "iam_cmd: unknown kind $kind" ;;
  esac
}

grant() {
  local kind="$1" resource member role
  if [[ "$kind" == project ]]; then
    resource=""
    member="$2"
    role="$3"
  else
    resource="$2"
    member="$3"
    role="$4"
  fi
  local -a get set
  # Word-splitting is intended: iam_cmd prints plain words (no spaces inside).
  read -r -a get <<<"$(iam_cmd "$kind" get-iam-policy "$resource")"
  read -r -a set <<<"$(iam_cmd "$kind" add-iam-policy-binding "$resource")"
  # Project policies may hold conditional bindings; gcloud then insists on --condition.
  [[ "$kind" == project ]] && set+=(--condition=None)
  ensure "${get[@]}" --flatten=bindings[].members \
    --filter="bindings.role=$role AND bindings.members=$member" --format='value(bindings.role)' \
    -- "${set[@]}" --member="$member" --role="$role" --quiet
}

revoke() {
  local kind="$1" resource member role
  if [[ "$kind" == project ]]; then
    resource=""
    member="$2"
    role="$3"
  else
    resource="$2"
    member="$3"
    role="$4"
  fi
  local -a get del
  read -r -a get <<<"$(iam_cmd "$kind" get-iam-policy "$resource")"
  read -r -a del <<<"$(iam_cmd "$kind" remove-iam-policy-binding "$resource")"
  ensure --expect "" "${get[@]}" --flatten=bindings[].members \
    --filter="bindings.role=$role AND bindings.members=$member" --format='value(bindings.role)' \
    -- "${del[@]}" --member="$member" --role="$role" --quiet
}
