#!/usr/bin/env python3
"""Start-up benchmark: spawns `image-pipeline serve` on a free loopback port 20 times and
reports the time to the first 200 from /healthz. Usage: scripts/startup-time.py [BINARY]"""
import subprocess, time, socket, os, statistics, tempfile
import sys
BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/image-pipeline"
def free_port():
    s=socket.socket(); s.bind(("127.0.0.1",0)); p=s.getsockname()[1]; s.close(); return p
res=[]
for i in range(20):
    d=tempfile.mkdtemp(); port=free_port()
    env=dict(PATH=os.environ["PATH"], PORT=str(port), PIPELINE_SERVER__HOST="127.0.0.1", PIPELINE_LOCAL__DATA_DIR=d, PIPELINE_CONFIG_DIR="/nonexistent", PIPELINE_LOG_FORMAT="json")
    t0=time.perf_counter()
    p=subprocess.Popen([BIN,"serve"],env=env,stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)
    while True:
        try:
            c=socket.create_connection(("127.0.0.1",port),timeout=1)
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data=c.recv(100); c.close()
            if data.startswith(b"HTTP/1.1 200"): break
        except OSError: pass
        time.sleep(0.001)
    res.append((time.perf_counter()-t0)*1000)
    p.terminate(); p.wait()
print("startup to first 200 from /healthz, ms: median %.1f, min %.1f, max %.1f over %d runs" % (statistics.median(res), min(res), max(res), len(res)))
