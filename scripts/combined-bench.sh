#!/usr/bin/env bash
# Combined-shape CPU benchmark (issue 25): `image-pipeline process` of one 12 MP photo with
# resize alone, with resize and thumbnail sharing one decode (`finalized` -> /), and with the
# two routes triggered separately (the four-service shape); CPU = the child's user+sys,
# shapes alternated, medians reported. Details: scripts/combined_bench.py.
#
#   scripts/combined-bench.sh [BINARY] [-- combined_bench.py options, e.g. --rounds 9]
#   PHOTO=../shared/bench-images/iphone6-3264x2448.jpg scripts/combined-bench.sh
#
# BINARY defaults to target/release/image-pipeline (built if missing, under nice); PHOTO to
# the 12 MP olympus-ep3-4032x3024.jpg of ../shared/bench-images. Needs only python3.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$repo/target/release/image-pipeline}"
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
if [ ! -x "$bin" ]; then
  (cd "$repo" && nice -n 10 cargo build --release --locked --bin image-pipeline)
  bin="${CARGO_TARGET_DIR:-$repo/target}/release/image-pipeline"
fi
photo="${PHOTO:-${BENCH_IMAGES_DIR:-$repo/../shared/bench-images}/olympus-ep3-4032x3024.jpg}"
exec python3 "$repo/scripts/combined_bench.py" --binary "$bin" --photo "$photo" "$@"
