#!/usr/bin/env bash
# Installs an AVIF decoder for the tests (Pillow 13, whose wheels bundle libavif with dav1d)
# into a venv outside the repo, if it is not there yet, and prints its python on stdout
# (everything else goes to stderr). Our build writes AVIF but has no AVIF decoder, so
# tests/api/avif_quality.rs decodes our AVIF outputs with it to measure their PSNR.
# Usage: AVIF_DECODER_PYTHON="$(.ci/install-avif-decoder.sh)"
set -euo pipefail

venv="${XDG_CACHE_HOME:-$HOME/.cache}/image-pipeline/avif-decoder"
package="pillow==13.0.0"

if [[ ! -x "$venv/bin/python" ]]; then
  echo "creating venv $venv" >&2
  python3 -m venv "$venv" >&2
fi
if ! "$venv/bin/python" -c 'from PIL import features; assert features.check("avif")' >/dev/null 2>&1; then
  echo "installing $package into $venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$package" >&2
fi
"$venv/bin/python" -c 'from PIL import features; assert features.check("avif"), "this Pillow cannot read AVIF"' >&2
echo "$venv/bin/python"
