#!/usr/bin/env python3
"""Memory benchmark (issue 14): peak RSS (VmHWM) of `image-pipeline serve` with IN_FLIGHT events
in flight on a large and hostile mix, each object delivered to /resize and /thumbnail.

Runs through scripts/memory-bench.sh (which provides Pillow for the JPEG inputs). Everything
listens on 127.0.0.1; the load is bounded in events, attempts and seconds. The service runs the
local profile with its folder store; objects go to a bucket no local trigger watches, so the
only events are the ones sent here, binary-mode CloudEvents as Eventarc sends them (the approach
of ../shared/bench/service/loadgen.py). A 503 is redelivered with the same ce-id after a backoff,
as Eventarc does. Prints a table and one JSON line; exits 1 when a check fails:
every valid image processed by both routes, every bomb `rejected` within 1 s.
"""
import argparse, http.client, json, os, shutil, signal, socket, struct, subprocess, sys
import tempfile, threading, time, uuid, zlib
from concurrent.futures import ThreadPoolExecutor

BUCKET = "membench"
ROUTES = ("/resize", "/thumbnail")
FINALIZED = "google.cloud.storage.object.v1.finalized"


def png_chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def write_png(path, w, h, depth, colour, channels):
    """A PNG of a smooth pattern (compresses well, decodes to a full raster)."""
    bpp = channels * depth // 8
    period = 256 * bpp
    base = bytes((i * 7 + (i // bpp) * 3) & 0xFF for i in range(period))
    rows = [b"\0" + (base[k:] + base * (w * bpp // period + 2))[: w * bpp] for k in range(0, 64, 4)]
    comp = zlib.compressobj(1)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, 0)))
        data = bytearray()
        for y in range(h):
            data += comp.compress(rows[y % len(rows)])
            if len(data) > 1 << 20:
                f.write(png_chunk(b"IDAT", bytes(data)))
                data.clear()
        data += comp.flush()
        f.write(png_chunk(b"IDAT", bytes(data)))
        f.write(png_chunk(b"IEND", b""))


def png_bomb(path, w, h):
    idat = zlib.compress(b"\0" * 64)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)))
        f.write(png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b""))


def gif_frame_bomb(path, frame=12000):
    """A 1x1 logical screen holding one frame of frame x frame pixels (issue 14's bomb)."""
    gif = b"GIF89a" + struct.pack("<HH", 1, 1) + bytes([0x80, 0, 0]) + bytes([0, 0, 0, 255, 255, 255])
    gif += b"\x2c" + struct.pack("<HHHH", 0, 0, frame, frame) + b"\0"
    gif += bytes([2, 2, 0x44, 0x01, 0]) + b"\x3b"
    with open(path, "wb") as f:
        f.write(gif)


def write_jpeg(path, w, h):
    from PIL import Image

    grey = Image.radial_gradient("L").resize((w, h))
    other = Image.linear_gradient("L").resize((w, h))
    Image.merge("RGB", (grey, other, grey.transpose(Image.Transpose.FLIP_LEFT_RIGHT))).save(
        path, quality=85
    )


def make_inputs(folder, shared):
    """The mix: (file, kind, count). Returns [(object name, path, kind)]."""
    os.makedirs(folder, exist_ok=True)
    made = {}

    def once(name, build):
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            build(path)
        made[name] = path
        return path

    specs = [
        (once("png-100mp.png", lambda p: write_png(p, 10000, 10000, 8, 2, 3)), "valid", 3),
        (once("jpeg-81mp.jpg", lambda p: write_jpeg(p, 9000, 9000)), "valid", 3),
        (once("png16-64mp.png", lambda p: write_png(p, 8000, 8000, 16, 6, 4)), "valid", 2),
        (os.path.join(shared, "bench-images/pexels-progressive-5141x3434.jpg"), "valid", 10),
        (os.path.join(shared, "bench-images/olympus-ep3-4032x3024.jpg"), "valid", 18),
        (once("gif-frame-bomb.gif", gif_frame_bomb), "bomb", 2),
        (once("png-100000x100000.png", lambda p: png_bomb(p, 100000, 100000)), "bomb", 2),
    ]
    objects = []
    for path, kind, count in specs:
        base = os.path.basename(path)
        objects += [(f"{i:02d}-{base}", path, kind) for i in range(count)]
    return objects


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def request(port, method, path, body=b"", headers=None, timeout=600):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def start_service(args, workdir, port):
    env = dict(
        PATH=os.environ["PATH"],
        PORT=str(port),
        PIPELINE_PROFILE="local",
        PIPELINE_SERVER__HOST="127.0.0.1",
        PIPELINE_LOCAL__DATA_DIR=os.path.join(workdir, "data"),
        PIPELINE_CONFIG_DIR="/nonexistent",
        PIPELINE_LOG_FORMAT="json",
        PIPELINE_SERVER__BODY_LIMIT_BYTES=str(64 << 20),
    )
    if args.budget_bytes:
        env["PIPELINE_SERVER__MEMORY_BUDGET_BYTES"] = str(args.budget_bytes)
    log = open(os.path.join(workdir, "service.log"), "wb")
    proc = subprocess.Popen([args.binary, "serve"], env=env, stdout=log, stderr=log)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if request(port, "GET", "/healthz", timeout=2)[0] == 200:
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit(f"the service did not become healthy; log: {workdir}/service.log")


def deliver(port, obj, route, max_seconds):
    """POSTs one event until a 2xx (redelivering 503s like Eventarc); returns what happened."""
    body = json.dumps(obj).encode()
    headers = {
        "ce-id": str(uuid.uuid4()),
        "ce-source": f"//storage.googleapis.com/projects/_/buckets/{BUCKET}",
        "ce-specversion": "1.0",
        "ce-type": FINALIZED,
        "ce-subject": f"objects/{obj['name']}",
        "Content-Type": "application/json",
    }
    started, backoff, attempts, first = time.time(), 1.0, 0, None
    while True:
        attempts += 1
        sent = time.time()
        try:
            status, answer = request(port, "POST", route, body, headers)
        except OSError as e:
            status, answer = 0, str(e).encode()
        took = time.time() - sent
        first = first if first is not None else took
        if status != 503 and status != 0 or time.time() - started > max_seconds:
            break
        time.sleep(backoff)
        backoff = min(backoff * 2, 10.0)
    try:
        outcome = json.loads(answer).get("outcome")
    except ValueError:
        outcome = None
    return dict(route=route, status=status, outcome=outcome, attempts=attempts,
                last_seconds=round(took, 3), first_seconds=round(first, 3),
                total_seconds=round(time.time() - started, 3), detail=answer[:300].decode(errors="replace"))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default=os.path.join(here, "..", "target/release/image-pipeline"))
    ap.add_argument("--in-flight", type=int, default=80)
    ap.add_argument("--budget-bytes", type=int, default=0, help="PIPELINE_SERVER__MEMORY_BUDGET_BYTES")
    ap.add_argument("--max-seconds", type=int, default=600, help="per event, redeliveries included")
    ap.add_argument("--inputs", help="keep generated inputs here (default: a temp dir)")
    ap.add_argument("--shared", default=os.path.join(here, "..", "..", "shared"))
    ap.add_argument("--label", default="")
    args = ap.parse_args()

    workdir = tempfile.mkdtemp(prefix="memory-bench-")
    try:
        objects = make_inputs(args.inputs or os.path.join(workdir, "inputs"), args.shared)
        port = free_port()
        proc = start_service(args, workdir, port)
        uploaded = []
        for name, path, kind in objects:
            with open(path, "rb") as f:
                status, answer = request(port, "PUT", f"/local/buckets/{BUCKET}/objects/{name}", f.read())
            if status != 200:
                sys.exit(f"upload of {name} failed: {status} {answer[:200]!r}")
            uploaded.append((json.loads(answer), kind))
        rss_before = status_kib(proc.pid, "VmRSS:")
        peak_sampled = [rss_before]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak_sampled[0] = max(peak_sampled[0], status_kib(proc.pid, "VmRSS:"))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        jobs = [(obj, kind, route) for obj, kind in uploaded for route in ROUTES]
        started = time.time()
        with ThreadPoolExecutor(max_workers=args.in_flight) as pool:
            futures = [(obj, kind, pool.submit(deliver, port, obj, route, args.max_seconds))
                       for obj, kind, route in jobs]
            results = [(obj, kind, f.result()) for obj, kind, f in futures]
        wall = time.time() - started
        stop.set()
        hwm_kib = status_kib(proc.pid, "VmHWM:")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    finally:
        if "proc" in locals() and proc.poll() is None:
            proc.kill()

    failures = []
    for obj, kind, r in results:
        if kind == "valid" and r["outcome"] != "processed":
            failures.append(f"{obj['name']} {r['route']}: {r['status']} {r['outcome']} {r['detail']}")
        if kind == "bomb" and (r["outcome"] != "rejected" or r["first_seconds"] >= 1.0):
            failures.append(f"bomb {obj['name']} {r['route']}: {r['outcome']} in {r['first_seconds']} s")
    by_outcome = {}
    for _, _, r in results:
        key = f"{r['status']} {r['outcome']}"
        by_outcome[key] = by_outcome.get(key, 0) + 1
    redelivered = sum(r["attempts"] - 1 for _, _, r in results)
    summary = dict(label=args.label, events=len(results), in_flight=args.in_flight,
                   budget_bytes=args.budget_bytes or None, vmhwm_mib=round(hwm_kib / 1024, 1),
                   rss_sampled_peak_mib=round(peak_sampled[0] / 1024, 1),
                   rss_before_load_mib=round(rss_before / 1024, 1), wall_seconds=round(wall, 1),
                   outcomes=by_outcome, redeliveries=redelivered, failed_checks=len(failures))
    print(f"events {len(results)} at {args.in_flight} in flight, {wall:.1f} s")
    print(f"peak RSS (VmHWM) {hwm_kib / 1024:.1f} MiB; sampled RSS peak {peak_sampled[0] / 1024:.1f} MiB;"
          f" RSS before the load {rss_before / 1024:.1f} MiB")
    print(f"outcomes {by_outcome}, redeliveries {redelivered}")
    for f in failures:
        print("CHECK FAILED:", f)
    print(json.dumps(summary))
    shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
