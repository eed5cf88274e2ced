#!/usr/bin/env bash
# Fetches the built-in moderator's model (nsfwjs 4.4.0 MobileNetV2, MIT code and weights) into
# a cache outside the repo, if it is not there yet, and prints the cache root on stdout
# (everything else goes to stderr). `image-pipeline models fetch` runs `npm pack nsfwjs@4.4.0`
# (npm's own cache makes later runs offline) and refuses a tarball whose sha256 is not the one
# pinned in src/moderation_model/mod.rs. Tests that need the model read MODERATION_MODEL_CACHE.
# Usage: MODERATION_MODEL_CACHE="$(.ci/fetch-model.sh)"
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${MODERATION_MODEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/image-pipeline/models}"

if ! command -v npm >/dev/null 2>&1; then
  echo "installing npm (Debian's nodejs and npm) to fetch the moderation model" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq nodejs npm >&2
fi

# The debug binary: the same build the tests use, so this costs a link, not a compile.
cargo run --locked --quiet -- models fetch --dir "$cache" >&2
echo "$cache"
