#!/usr/bin/env bash
# Runs every fuzz target in turn for SECONDS_PER_TARGET (default 600) under nice, from fresh
# seeds (fuzz/seed-corpora.sh), and prints one line per target: execs, execs/s, crashes.
# Logs and the corpora found go to ${OUT:-${TMPDIR:-/tmp}/image-pipeline-fuzz}.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
secs="${SECONDS_PER_TARGET:-600}"
out="${OUT:-${TMPDIR:-/tmp}/image-pipeline-fuzz}"
targets="${TARGETS:-header strip cloudevent events}"
mkdir -p "$out"
seeds="$("$repo/fuzz/seed-corpora.sh" "$out/seeds")"
cd "$repo"
export RUSTC_BOOTSTRAP=1
nice -n 10 cargo fuzz build --fuzz-dir fuzz
for t in $targets; do
  mkdir -p "$out/corpus/$t"
  extra=""
  [ "$t" = strip ] && extra="-max_len=400000"
  nice -n 10 cargo fuzz run --fuzz-dir fuzz "$t" "$out/corpus/$t" "$seeds/$t" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 $extra \
    > "$out/$t.log" 2>&1 && status=ok || status="exit $?"
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/$t.log" | grep -o '[0-9]*$' || echo 0)
  crashes=$(ls fuzz/artifacts/"$t" 2>/dev/null | wc -l)
  echo "$t: $status, $runs execs in ${secs}s ($((runs / secs))/s), artifacts: $crashes, log $out/$t.log"
done
