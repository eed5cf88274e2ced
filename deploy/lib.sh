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

# Print an argv as one shell line (q inlined: a subshell per word is slow).
show() {
  local out="" word
  for word in "$@"; do
    if [[ "$word" =~ ^[A-Za-z0-9_./:=@,+%-]+$ ]]; then
      out+="$word "
    else
      out+="'${word//\'/\'\\\'\'}' "
    fi
  done
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

# ensure [--expect VALUE | --absent-line LINE | --present-line LINE] GUARD... -- ACTION...
# Runs ACTION only when the read-only GUARD (a describe, list or get-iam-policy) says
# it is needed:
#   (no option)          GUARD prints nothing (its errors, e.g. "not found", count as nothing)
#   --expect VALUE       GUARD prints something other than VALUE
#   --absent-line LINE   no line of GUARD's output is exactly LINE
#   --present-line LINE  some line of GUARD's output is exactly LINE
ensure() {
  local mode=empty want="" guard=() action=()
  case "$1" in
    --expect) mode=expect ;;
    --absent-line) mode=absent ;;
    --present-line) mode=present ;;
  esac
  if [[ "$mode" != empty ]]; then
    want="$2"
    shift 2
  fi
  while [[ $# -gt 0 && "$1" != -- ]]; do
    guard+=("$1")
    shift
  done
  [[ "${1:-}" == -- ]] || die "ensure: missing -- between guard and action"
  shift
  action=("$@")
  local g a
  g="$(show "${guard[@]}")"
  a="$(show "${action[@]}")"
  # The $(...) below is printed for the reader, not expanded.
  # shellcheck disable=SC2016
  case "$mode" in
    empty) printf '+ if [ -z "$(%s)" ]; then %s; fi\n' "$g" "$a" ;;
    expect) printf '+ if [ "$(%s)" != %s ]; then %s; fi\n' "$g" "$(q "$want")" "$a" ;;
    absent) printf '+ if ! %s | grep -qFx %s; then %s; fi\n' "$g" "$(q "$want")" "$a" ;;
    present) printf '+ if %s | grep -qFx %s; then %s; fi\n' "$g" "$(q "$want")" "$a" ;;
  esac
  ((DRY_RUN)) && return 0
  local current needed=0
  current="$("${guard[@]}" 2>/dev/null || true)"
  case "$mode" in
    empty) [[ -z "$current" ]] && needed=1 ;;
    expect) [[ "$current" != "$want" ]] && needed=1 ;;
    absent) grep -qFx -- "$want" <<<"$current" || needed=1 ;;
    present) grep -qFx -- "$want" <<<"$current" && needed=1 ;;
  esac
  if ((needed)); then
    "${action[@]}"
  else
    log "  unchanged"
  fi
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

# IAM bindings. Each is guarded by a read of the current policy (one "role,member"
# line per binding; not --filter, which storage buckets get-iam-policy lacks), so a
# second run sends no setIamPolicy at all. KIND is the gcloud group that owns the resource.
#   grant project           MEMBER ROLE
#   grant bucket   gs://B   MEMBER ROLE
#   grant topic    T        MEMBER ROLE
#   grant subscription S    MEMBER ROLE
#   grant run      SERVICE  MEMBER ROLE
#   grant sa       EMAIL    MEMBER ROLE
#   grant repo     REPO     MEMBER ROLE
#   grant secret   SECRET   MEMBER ROLE
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
    secret) echo gcloud secrets "$verb" "$resource" --project="$PROJECT_ID" ;;
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
  ensure --absent-line "$role,$member" "${get[@]}" --flatten=bindings[].members \
    --format='csv[no-heading](bindings.role,bindings.members)' \
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
  ensure --present-line "$role,$member" "${get[@]}" --flatten=bindings[].members \
    --format='csv[no-heading](bindings.role,bindings.members)' \
    -- "${del[@]}" --member="$member" --role="$role" --quiet
}
