#!/usr/bin/env bash
# Compares the built-in moderator with the reference nsfwjs (TensorFlow.js, pure-JavaScript CPU
# backend) on the bench photos; exits non-zero if a class probability differs by more than 0.01.
# Node dependencies go to ~/.cache/image-pipeline/node (pinned by package-lock.json), never
# into the repo. Needs the model (`image-pipeline models fetch`) and Node.js 18+ with npm.
# Usage: scripts/moderation-reference/run.sh [IMAGE...]   (default: ../shared/bench-images)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
deps="${XDG_CACHE_HOME:-$HOME/.cache}/image-pipeline/node"

mkdir -p "$deps"
if ! cmp -s "$here/package-lock.json" "$deps/package-lock.json" || [[ ! -d "$deps/node_modules" ]]; then
  cp "$here/package.json" "$here/package-lock.json" "$deps/"
  (cd "$deps" && npm ci --no-audit --no-fund --ignore-scripts >&2)
fi

bin="${IMAGE_PIPELINE_BIN:-}"
if [[ -z "$bin" ]]; then
  (cd "$root" && cargo build --release --locked --quiet)
  bin="${CARGO_TARGET_DIR:-$root/target}/release/image-pipeline"
fi

if (($# == 0)); then
  shopt -s nullglob
  set -- "$root"/../shared/bench-images/*.{jpg,png} "$root"/../shared/bench-images/exif-orientation/*.jpg
fi
exec node "$here/compare.mjs" "$deps" "$bin" "$@"
