#!/usr/bin/env bash
# Runs the deploy dry-run tests (deploy/test_deploy.py): trigger paths, wiring,
# IAM least roles, guards, env parity between check-config and deploy, teardown,
# and (when gcloud is installed) every flag against gcloud's own --help.
# Owns: the venv with PyYAML (deploy/venv.sh). Never calls a Google Cloud API.
# Prints "deploy: N passed, N failed" and one PASS or FAIL line; exit 0 on PASS.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/venv.sh
source "$here/venv.sh"
ensure_tools_venv || { echo "FAIL: deploy/test_deploy.sh: could not install PyYAML from PyPI"; exit 1; }

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
(cd "$here" && PYTHONDONTWRITEBYTECODE=1 "$TOOLS_VENV/bin/python" -m unittest -v test_deploy) 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

ran="$(sed -n 's/^Ran \([0-9]*\) tests\{0,1\} in.*/\1/p' "$log" | tail -n 1)"
failed="$(grep -cE '^(FAIL|ERROR): ' "$log")"
skipped="$(grep -cE ' \.\.\. skipped' "$log")"
passed=$((${ran:-0} - failed - skipped))
echo "deploy: $passed passed, $failed failed, $skipped skipped"
if [[ $status -eq 0 && ${ran:-0} -gt 0 ]]; then
  echo "PASS: deploy/test_deploy.sh"
else
  echo "FAIL: deploy/test_deploy.sh"
  exit 1
fi
