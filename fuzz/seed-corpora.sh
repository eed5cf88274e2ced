#!/usr/bin/env bash
# Builds the seed corpus of every fuzz target from the shared fixtures, at run time (the
# shared files are never copied into the repository). Prints the seed root.
#   usage: fuzz/seed-corpora.sh [SEED_ROOT]   (default ~/.cache/image-pipeline/fuzz-seeds)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
shared="${SHARED_DIR:-$here/../../shared}"
root="${1:-$HOME/.cache/image-pipeline/fuzz-seeds}"
for dir in "$shared/bench-images" "$shared/gcp-event-fixtures" "$shared/cloudevents-conformance"; do
  [ -d "$dir" ] || { echo "missing $dir (set SHARED_DIR)" >&2; exit 1; }
done
rm -rf "$root"
mkdir -p "$root"/{header,strip,cloudevent,events}

# Images: the header lives in the first 64 KiB; the stripper also walks the scans, so it
# gets the small photos whole and the first 256 KiB of the large ones.
i=0
while IFS= read -r -d '' img; do
  i=$((i + 1))
  head -c 65536 "$img" > "$root/header/img-$i"
  if [ "$(stat -c %s "$img")" -le 400000 ]; then cp "$img" "$root/strip/img-$i"
  else head -c 262144 "$img" > "$root/strip/img-$i"; fi
done < <(find "$shared/bench-images" -type f \( -name '*.jpg' -o -name '*.png' \) -print0 | sort -z)

python3 - "$shared" "$root" <<'PY'
import json, pathlib, sys
shared, root = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
n = 0
def put(target, data):
    global n
    n += 1
    (root / target / f"seed-{n}").write_bytes(data)

# Structured-mode events: the conformance cases (one per line) and the full fixtures.
for name in ("valid-events.json", "invalid-events.json"):
    for case in json.loads((shared / "cloudevents-conformance" / name).read_text())["tests"]:
        if "event" in case:
            put("cloudevent", b"content-type: application/cloudevents+json\n\n"
                + json.dumps(case["event"]).encode())
fixtures = shared / "gcp-event-fixtures"
for path in sorted(fixtures.rglob("*.json")):
    if "legacy" in path.name:
        continue
    doc = json.loads(path.read_text())
    if isinstance(doc, dict) and "specversion" in doc:
        put("cloudevent", b"content-type: application/cloudevents+json\n\n" + path.read_bytes())
        data = json.dumps(doc.get("data", {})).encode()
        ty = doc.get("type", "")
    else:
        data = path.read_bytes()
        kind = path.parent.name
        ty = {"storage": "google.cloud.storage.object.v1.finalized",
              "v1": "google.cloud.storage.object.v1.finalized",
              "pubsub": "google.cloud.pubsub.topic.v1.messagePublished",
              "firestore": "google.cloud.firestore.document.v1.written",
              "audit": "google.cloud.audit.log.v1.written"}.get(kind, "")
        for part, t in (("pubsub", "google.cloud.pubsub.topic.v1.messagePublished"),
                        ("firestore", "google.cloud.firestore.document.v1.written"),
                        ("audit", "google.cloud.audit.log.v1.written"),
                        ("storage", "google.cloud.storage.object.v1.finalized")):
            if part in path.parts:
                ty = t
    put("events", f"{ty}\napplication/json\n".encode() + data)
    # The same payload in binary content mode.
    put("cloudevent", (f"ce-id: seed-{n}\nce-source: //fuzz\nce-specversion: 1.0\n"
                       f"ce-type: {ty}\ncontent-type: application/json\n\n").encode() + data)
PY
for t in header strip cloudevent events; do
  echo "$t: $(ls "$root/$t" | wc -l) seeds" >&2
done
echo "$root"
