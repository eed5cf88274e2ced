#!/usr/bin/env bash
# Memory benchmark (issue 14): peak RSS (VmHWM) of `image-pipeline serve` at 80 events in flight
# on the large/hostile mix (100 MP PNGs, 81 MP JPEGs, a 16-bit 64 MP PNG, the 17.7 MP progressive
# and 12 MP bench photos, a GIF frame bomb, a PNG declaring 100000x100000), each object delivered
# to /resize and /thumbnail. Details and checks: scripts/memory_bench.py.
#
#   scripts/memory-bench.sh [BINARY] [-- memory_bench.py options]
#   BUDGET_BYTES=402653184 scripts/memory-bench.sh     # PIPELINE_SERVER__MEMORY_BUDGET_BYTES (384 MiB)
#
# BINARY defaults to target/release/image-pipeline (built if missing, under nice). Pillow (for the
# JPEG inputs) is installed from PyPI into ~/.cache/image-pipeline/memory-bench-venv once.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$repo/target/release/image-pipeline}"
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
if [ ! -x "$bin" ]; then
  (cd "$repo" && nice -n 10 cargo build --release --locked --bin image-pipeline)
  bin="${CARGO_TARGET_DIR:-$repo/target}/release/image-pipeline"
fi
venv="$HOME/.cache/image-pipeline/memory-bench-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import PIL' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet pillow==13.0.0
fi
budget=()
[ -n "${BUDGET_BYTES:-}" ] && budget=(--budget-bytes "$BUDGET_BYTES")
exec nice -n 10 "$venv/bin/python" "$repo/scripts/memory_bench.py" --binary "$bin" \
  --shared "$repo/../shared" "${budget[@]}" "$@"
