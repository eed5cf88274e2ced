#!/usr/bin/env bash
# Installs the reference decoders of the placeholders we write (npm `thumbhash` 0.1.1 by the
# ThumbHash author, `blurhash` 2.0.5 by Wolt) into a cache outside the repo, if they are not
# there yet, and prints the cache directory on stdout (everything else goes to stderr).
# src/imaging/tests/reference_decoders.rs decodes our ThumbHash and BlurHash with them.
# Usage: PLACEHOLDER_DECODERS_DIR="$(.ci/fetch-placeholder-decoders.sh)"
set -euo pipefail

dir="${PLACEHOLDER_DECODERS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/image-pipeline/placeholder-decoders}"

if [[ ! -f "$dir/node_modules/thumbhash/package.json" || ! -f "$dir/node_modules/blurhash/package.json" ]]; then
  mkdir -p "$dir"
  npm install --silent --no-audit --no-fund --prefix "$dir" thumbhash@0.1.1 blurhash@2.0.5 >&2
fi
echo "$dir"
