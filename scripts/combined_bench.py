"""CPU of `image-pipeline process` on one photo: resize alone vs resize and thumbnail (issue 25).

Shapes, each a fresh data dir and its own local triggers (no Pub/Sub triggers, moderation off,
so the comparison is resize vs resize+thumbnail and nothing else):
  resize    PIPELINE_ROUTES=resize, the upload's `finalized` -> /resize
  combined  PIPELINE_ROUTES=resize,thumbnail, `finalized` -> /  (one download, one decode)
  separate  PIPELINE_ROUTES=resize,thumbnail, `finalized` -> /resize and /thumbnail
            (the four-service shape: each route downloads and decodes)
  moderated resize and the built-in moderator on image.resized (its CPU: this minus resize)
  resize+webp, resize+webp+avif  resize alone with `resize.formats` original,webp (,avif)
Every shape also runs the record route (`process` reports from the record), and image.*
messages go to /record (and /moderate in `moderated`).
The shapes run alternately, ROUNDS times; the CPU of a run is the child's user+sys
(getrusage RUSAGE_CHILDREN), start-up included, divided by the photos per run (--photos). Prints one line per run, then the medians and
the ratio combined/resize (the issue's bound: at most 1.3). Run by scripts/combined-bench.sh.
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile

FINALIZED = "google.cloud.storage.object.v1.finalized"
PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"
# shape: (PIPELINE_ROUTES, paths the upload's `finalized` goes to, paths image.* messages go
# to). Every shape has the record route: `process` reports from the record.
SHAPES = {
    "resize": ("resize,record", ["/resize", "/record"], ["/record"]),
    "combined": ("resize,thumbnail,record", ["/", "/record"], ["/record"]),
    "separate": ("resize,thumbnail,record", ["/resize", "/thumbnail", "/record"], ["/record"]),
    # resize, and the built-in moderator on image.resized (its CPU: this minus `resize`)
    "moderated": ("resize,moderate,record", ["/resize", "/record"], ["/moderate", "/record"]),
    # resize alone with further formats per size (issue 23's cost of WebP and AVIF outputs)
    "resize+webp": ("resize,record", ["/resize", "/record"], ["/record"]),
    "resize+webp+avif": ("resize,record", ["/resize", "/record"], ["/record"]),
}
# `resize.formats` of the shapes that write more than the original format.
FORMATS = {"resize+webp": "original,webp", "resize+webp+avif": "original,webp,avif"}
MODEL_DIR = os.environ.get("MODERATION_MODEL_CACHE") or os.path.expanduser("~/.cache/image-pipeline/models")


def config_dir(root, storage_paths, message_paths):
    """A config folder whose local.toml holds only the shape's triggers."""
    folder = os.path.join(root, "config")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "local.toml"), "w", encoding="utf-8") as f:
        for path in storage_paths:
            f.write(f'[[local.triggers]]\nevent_type = "{FINALIZED}"\nbucket = "uploads"\npath = "{path}"\n\n')
        for path in message_paths:
            f.write(f'[[local.triggers]]\nevent_type = "{PUBLISHED}"\ntopic = "image-pipeline-events"\n'
                    f'path = "{path}"\n\n')
    return folder


def run_once(binary, photo, shape, photos):
    """CPU seconds per photo of one `process` run of `shape`, and its peak RSS in KiB."""
    routes, paths, message_paths = SHAPES[shape]
    root = tempfile.mkdtemp(prefix=f"combined-bench-{shape}-")
    try:
        inputs = os.path.join(root, "in")
        os.makedirs(inputs)
        stem, ext = os.path.splitext(os.path.basename(photo))
        for i in range(photos):
            shutil.copy(photo, os.path.join(inputs, f"{stem}-{i}{ext}"))
        moderated = "moderate" in routes
        env = dict(
            os.environ,
            PIPELINE_PROFILE="local",
            PIPELINE_CONFIG_DIR=config_dir(root, paths, message_paths),
            PIPELINE_LOCAL__DATA_DIR=os.path.join(root, "data"),
            PIPELINE_ROUTES=routes,
            PIPELINE_MODERATION__BACKEND="builtin" if moderated else "none",
            PIPELINE_MODERATION__MODEL_DIR=MODEL_DIR,
            PIPELINE_LOG_LEVEL="warn",
            PIPELINE_RESIZE__FORMATS=FORMATS.get(shape, "original"),
        )
        rss_file = os.path.join(root, "maxrss")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        # /usr/bin/time -f %M: the run's own peak RSS (getrusage's is the max of every child).
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file, binary, "process",
                               "--json", inputs], env=env, capture_output=True, text=True,
                              timeout=300, check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        with open(rss_file, encoding="utf-8") as f:
            peak_rss_kib = int(f.read().split()[-1])
        # 1: the records stay `pending` (a shape without every stage); the records say more.
        if proc.returncode not in (0, 1):
            sys.exit(f"{shape}: process exited {proc.returncode}: {proc.stderr[-2000:]}")
        records = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
        sizes = 3 * len(FORMATS.get(shape, "original").split(","))
        if len(records) != photos or any(len(r["variants"]) != sizes or r["error"] for r in records):
            sys.exit(f"{shape}: unexpected records: {proc.stdout[-2000:]} {proc.stderr[-2000:]}")
        buckets = os.path.join(root, "data", "buckets")
        made = sorted(os.path.relpath(os.path.join(d, f), buckets)
                      for d, _, files in os.walk(os.path.join(buckets, "uploads")) for f in files)
        thumbnails = [m for m in made if m.startswith("uploads/thumbnails/")]
        resized = [m for m in made if m.startswith("uploads/resized/")]
        want_thumbnail = "thumbnail" in routes
        if len(resized) != sizes * photos or len(thumbnails) != photos * want_thumbnail:
            sys.exit(f"{shape}: unexpected outputs {made}")
        if moderated and any((r["moderation"] or {}).get("verdict") in (None, "unmoderated") for r in records):
            sys.exit(f"{shape}: the built-in model did not run (no model in {MODEL_DIR}?)")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return cpu / photos, peak_rss_kib
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--photo", required=True)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--shapes", default="resize,combined,separate")
    parser.add_argument("--photos", type=int, default=1,
                        help="copies of the photo per `process` run (start-up shared by them)")
    args = parser.parse_args()
    shapes = args.shapes.split(",")
    cpu = {shape: [] for shape in shapes}
    rss = {shape: [] for shape in shapes}
    run_once(args.binary, args.photo, shapes[0], args.photos)  # warm the page cache; not counted
    for round_no in range(args.rounds):
        # Alternate the order, so a drift in the machine's load hits every shape alike.
        order = shapes if round_no % 2 == 0 else list(reversed(shapes))
        for shape in order:
            seconds, peak_kib = run_once(args.binary, args.photo, shape, args.photos)
            cpu[shape].append(seconds)
            rss[shape].append(peak_kib)
            print(f"round {round_no + 1} {shape:9} {seconds:.3f} s CPU, peak RSS {peak_kib / 1024:.0f} MiB",
                  flush=True)
    medians = {shape: statistics.median(values) for shape, values in cpu.items()}
    print(f"\nphoto {os.path.basename(args.photo)} x {args.photos} per run, {args.rounds} rounds, "
          "CPU s per photo (user+sys of `process`, start-up included):")
    for shape in shapes:
        values = cpu[shape]
        print(f"  {shape:9} median {medians[shape]:.3f}  min {min(values):.3f}  max {max(values):.3f}"
              f"  peak RSS {max(rss[shape]) / 1024:.0f} MiB")
    summary = {"photo": os.path.basename(args.photo), "photos": args.photos, "rounds": args.rounds,
               "cpu_s": cpu, "median_cpu_s": medians, "peak_rss_kib": rss}
    if "resize" in medians and "combined" in medians:
        ratio = medians["combined"] / medians["resize"]
        summary["combined_over_resize"] = ratio
        print(f"  combined / resize = {ratio:.2f}  (issue 25: at most 1.3)")
    if "separate" in medians and "combined" in medians:
        summary["combined_over_separate"] = medians["combined"] / medians["separate"]
        print(f"  combined / separate = {summary['combined_over_separate']:.2f}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
