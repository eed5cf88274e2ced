#!/usr/bin/env bash
# Proves the container's runtime stage without a Docker engine.
#
# Owns: building (and caching) a minimal Debian bookworm root with debootstrap,
# laying out the image exactly as the Dockerfile's runtime stage does
# (/app/image-pipeline, /app/config, a writable /data, uid 65532), then running the
# binary in it as that unprivileged user: check-config, GET /healthz, one
# binary-mode CloudEvent, SIGTERM.
# Must not: touch the repo, reach anything but Debian's mirror (for the first
# debootstrap) and 127.0.0.1, or leave a process or mount behind.
#
# Usage: deploy/check-runtime-root.sh [BINARY CONFIG_DIR]
#   BINARY      a release build, e.g. target/release/image-pipeline
#   CONFIG_DIR  the repo's config/ folder
#   (no arguments: `cargo build --release --locked` first, then check
#   $CARGO_TARGET_DIR/release/image-pipeline with the repo's config/)
# Environment:
#   IMAGE_PIPELINE_CACHE  cache folder (default ~/.cache/image-pipeline)
#   DEBIAN_MIRROR         default http://deb.debian.org/debian
#   CHECK_ROUTE           route the test event is posted to (default /record)
#   CHECK_KEEP_ROOT=1     keep the unpacked root for inspection
# Needs root (debootstrap and chroot). Prints one PASS or FAIL line; exit 0 on PASS.
set -euo pipefail

readonly RUNTIME_UID=65532 # distroless "nonroot"; the Dockerfile uses the same id
readonly SUITE=bookworm    # the runtime stage is gcr.io/distroless/cc-debian12
# Libraries distroless/cc-debian12 provides; the binary may need nothing else.
readonly ALLOWED_LIBS="libc.so.6 libm.so.6 libgcc_s.so.1 ld-linux-x86-64.so.2 ld-linux-aarch64.so.1 libpthread.so.0 libdl.so.2 librt.so.1"

cache_dir="${IMAGE_PIPELINE_CACHE:-$HOME/.cache/image-pipeline}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
route="${CHECK_ROUTE:-/record}"
work=""
server_pid=""

fail() {
  echo "FAIL: check-runtime-root: $*" >&2
  if [[ -n "$work" && -f "$work/server.log" ]]; then
    echo "--- server log (last 40 lines) ---" >&2
    tail -n 40 "$work/server.log" >&2 || true
  fi
  exit 1
}

now_ms() { date +%s%3N; }

cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ -n "$work" && -d "$work" ]]; then
    # The proc mount lives in the server's own mount namespace and dies with it;
    # refuse to delete anything that is still a mount point, just in case.
    if mountpoint -q "$work/root/proc" 2>/dev/null; then umount -l "$work/root/proc" || true; fi
    if [[ "${CHECK_KEEP_ROOT:-0}" == 1 ]]; then
      echo "kept root: $work/root"
    else
      rm -rf --one-file-system "$work"
    fi
  fi
}
trap cleanup EXIT

# The release build needs cmake and nasm (turbojpeg's vendored libjpeg-turbo).
build_release() {
  local repo_root
  repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  if ! command -v cmake >/dev/null || ! command -v nasm >/dev/null; then
    apt-get install -y -qq cmake nasm >/dev/null 2>&1 ||
      { apt-get update -qq && apt-get install -y -qq cmake nasm >/dev/null; } ||
      fail "could not install cmake and nasm"
  fi
  echo "building the release binary (cargo build --release --locked)" >&2
  (cd "$repo_root" && nice cargo build --release --locked --bin image-pipeline >&2) ||
    fail "cargo build --release failed"
  printf '%s\n%s\n' "${CARGO_TARGET_DIR:-$repo_root/target}/release/image-pipeline" "$repo_root/config"
}

case $# in
  0) mapfile -t built < <(build_release) && set -- "${built[@]}" ;;
  2) ;;
  *) fail "usage: $0 [BINARY CONFIG_DIR]" ;;
esac
[[ $# -eq 2 ]] || fail "the release build did not report a binary"
binary="$(realpath "$1")" || fail "binary $1 not found"
config_dir="$(realpath "$2")" || fail "config dir $2 not found"
[[ -x "$binary" ]] || fail "$binary is not an executable file"
[[ -d "$config_dir" ]] || fail "$config_dir is not a directory"
[[ $(id -u) -eq 0 ]] || fail "needs root for debootstrap and chroot (run it with sudo)"
command -v curl >/dev/null || fail "curl is missing (apt-get install -y curl)"

ensure_tools() {
  local missing=()
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v readelf >/dev/null || missing+=(binutils)
  if ((${#missing[@]})); then
    echo "installing ${missing[*]} from apt"
    apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
      { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; } ||
      fail "could not install ${missing[*]}"
  fi
}

# The binary must link only what distroless/cc ships, or the real image would not start.
check_linkage() {
  local lib needed
  needed="$(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"
  for lib in $needed; do
    [[ " $ALLOWED_LIBS " == *" $lib "* ]] ||
      fail "$binary needs $lib, which distroless/cc-debian12 does not ship"
  done
  echo "linkage ok: $(echo "$needed" | tr '\n' ' ')"
}

# debootstrap once, then reuse a tarball: the first run takes minutes, later ones seconds.
ensure_rootfs_tarball() {
  local arch tarball tmp start
  arch="$(dpkg --print-architecture)"
  tarball="$cache_dir/rootfs/$SUITE-minbase-$arch.tar"
  if [[ -f "$tarball" ]]; then
    echo "rootfs: cached $tarball" >&2
  else
    mkdir -p "$cache_dir/rootfs"
    tmp="$cache_dir/rootfs/$SUITE-minbase-$arch.tmp"
    rm -rf --one-file-system "$tmp"
    start=$(now_ms)
    echo "rootfs: debootstrap $SUITE (minbase + ca-certificates) from $mirror, once" >&2
    debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$tmp" "$mirror" \
      >"$cache_dir/rootfs/debootstrap.log" 2>&1 ||
      fail "debootstrap failed, see $cache_dir/rootfs/debootstrap.log"
    tar -C "$tmp" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
    rm -rf --one-file-system "$tmp"
    echo "rootfs: debootstrap + tar took $(($(now_ms) - start)) ms" >&2
  fi
  printf '%s\n' "$tarball"
}

# Lay out the root like the Dockerfile's runtime stage. Shells are removed so that
# anything needing /bin/sh at run time (distroless has none) fails here too.
prepare_root() {
  local root="$1" tarball="$2"
  mkdir -p "$root"
  tar -C "$root" -xf "$tarball"
  rm -f "$root/usr/bin/sh" "$root/usr/bin/bash" "$root/usr/bin/dash" "$root/bin/sh"
  install -d -m 0755 -o 0 -g 0 "$root/app"
  install -m 0755 -o 0 -g 0 "$binary" "$root/app/image-pipeline"
  cp -r "$config_dir" "$root/app/config"
  chown -R 0:0 "$root/app/config"
  chmod -R u=rwX,go=rX "$root/app/config"
  install -d -m 0755 -o "$RUNTIME_UID" -g "$RUNTIME_UID" "$root/data"
}

# Runs the binary inside the root as uid 65532 with a clean environment, in its own
# PID and mount namespaces (so it is PID 1, as in a container), with the image's ENV
# except the host: 127.0.0.1, not 0.0.0.0, because the check shares the host's network. It execs: call it in a subshell or in the background.
run_in_root() {
  local root="$1"
  shift
  # Host tools by absolute path: the clean environment's PATH is the image's.
  exec env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/nonexistent \
    PIPELINE_CONFIG_DIR=/app/config PIPELINE_LOCAL__DATA_DIR=/data \
    PIPELINE_SERVER__HOST=127.0.0.1 PORT="$port" PIPELINE_LOG_FORMAT=json \
    "$(command -v setpriv)" --no-new-privs -- \
    "$(command -v unshare)" --pid --fork --kill-child --mount --mount-proc="$root/proc" -- \
    "$(command -v chroot)" --userspec="$RUNTIME_UID:$RUNTIME_UID" --groups="$RUNTIME_UID" "$root" \
    /app/image-pipeline "$@"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

post_event() {
  local url="$1" out="$2"
  curl -sS -o "$out" -w '%{http_code} %{content_type}' --max-time 30 -X POST "$url" \
    -H 'Content-Type: application/json' \
    -H 'ce-specversion: 1.0' \
    -H 'ce-type: google.cloud.storage.object.v1.finalized' \
    -H 'ce-source: //storage.googleapis.com/projects/_/buckets/uploads' \
    -H 'ce-subject: objects/incoming/check.png' \
    -H "ce-id: check-runtime-root-$$" \
    -H 'ce-time: 2026-11-25T00:00:00Z' \
    -H 'ce-bucket: uploads' \
    --data-binary '{"bucket":"uploads","name":"incoming/check.png","generation":"1","metageneration":"1","contentType":"image/png","size":"67","timeCreated":"2026-11-25T00:00:00Z","updated":"2026-11-25T00:00:00Z"}'
}

main() {
  local t0 tarball root start body status ctype outcome uid app_pid p
  t0=$(now_ms)
  ensure_tools
  check_linkage
  tarball="$(ensure_rootfs_tarball)"
  work="$(mktemp -d /tmp/image-pipeline-root.XXXXXX)"
  root="$work/root"
  start=$(now_ms)
  prepare_root "$root" "$tarball"
  echo "root prepared in $(($(now_ms) - start)) ms at $root"
  port="$(free_port)"

  (run_in_root "$root" check-config) >"$work/check-config.log" 2>&1 ||
    { cat "$work/check-config.log" >&2; fail "check-config exited non-zero inside the root"; }
  echo "check-config: ok"

  start=$(now_ms)
  run_in_root "$root" serve >"$work/server.log" 2>&1 &
  server_pid=$!
  status=""
  for _ in $(seq 1 300); do
    kill -0 "$server_pid" 2>/dev/null || fail "server exited before /healthz answered"
    status="$(curl -s -o "$work/healthz.json" -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/healthz" || true)"
    [[ "$status" == 200 ]] && break
    sleep 0.1
  done
  [[ "$status" == 200 ]] || fail "GET /healthz did not answer 200 within 30 s (last: ${status:-none})"
  python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1])).get("status") != "ok")' "$work/healthz.json" ||
    fail "GET /healthz answered 200 without {\"status\":\"ok\"}: $(head -c 300 "$work/healthz.json")"
  echo "healthz: 200 after $(($(now_ms) - start)) ms: $(head -c 300 "$work/healthz.json")"

  # The server must really run as the unprivileged user, not as root.
  app_pid=""
  for p in /proc/[0-9]*; do
    if [[ "$(readlink "$p/exe" 2>/dev/null)" == "$root/app/image-pipeline" ]]; then
      app_pid="${p#/proc/}"
      break
    fi
  done
  [[ -n "$app_pid" ]] || fail "cannot find the server process"
  uid="$(awk '/^Uid:/ {print $2; exit}' "/proc/$app_pid/status")"
  [[ "$uid" == "$RUNTIME_UID" ]] || fail "server runs as uid '${uid:-?}', expected $RUNTIME_UID"
  echo "server uid: $uid"

  read -r status ctype <<<"$(post_event "http://127.0.0.1:$port$route" "$work/event.json")"
  body="$(head -c 500 "$work/event.json")"
  [[ "$status" == 200 ]] || fail "POST $route answered $status: $body"
  [[ "$ctype" == application/json* ]] || fail "POST $route answered content type '$ctype', expected JSON"
  outcome="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["outcome"])' "$work/event.json")" ||
    fail "POST $route body has no outcome field: $body"
  case "$outcome" in
    processed | duplicate | skipped | rejected) ;;
    *) fail "POST $route answered 200 with outcome '$outcome'" ;;
  esac
  echo "event: POST $route -> $status outcome=$outcome: $body"

  # Cloud Run sends SIGTERM to the container's PID 1 and kills it 10 s later. As PID 1
  # the binary only sees SIGTERM if it handles it, so this also checks that it does.
  start=$(now_ms)
  kill -TERM "$app_pid"
  for _ in $(seq 1 100); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$server_pid" 2>/dev/null && fail "server still running 10 s after SIGTERM"
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  echo "sigterm: stopped in $(($(now_ms) - start)) ms"

  echo "PASS: check-runtime-root: $(basename "$binary") served /healthz and $route as uid $RUNTIME_UID in a $SUITE minimal root ($(($(now_ms) - t0)) ms total)"
}

main
