#!/usr/bin/env python3
"""Run one workload with poolfetch and its peers against the same embedded server, side by side.

Peers (each skipped, saying so, when not installed): oha (`-c P`, one URL; and `--http2`
against poolfetch's HTTP/2 row), `curl --parallel --parallel-max P`, and a Python
`ThreadPoolExecutor(P)` calling `requests.get` (the seed's pattern; no shared Session), plus
the same with one `requests.Session` per thread. Runs are interleaved, repeated, and the
median wall time of each tool is reported with poolfetch's speed ratio to it, and the median
CPU time (user + sys, from getrusage of the child) per request.

    scripts/compare-peers.sh [--requests N] [--pool P] [--delay-ms L] [--repeat R]
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PY_PEER = r'''
import sys, threading, requests
from concurrent.futures import ThreadPoolExecutor
urls = [line.strip() for line in open(sys.argv[1]) if line.strip()]
pool = int(sys.argv[2]); mode = sys.argv[3]
local = threading.local()
def get(url):
    if mode == "session":
        if not hasattr(local, "s"):
            local.s = requests.Session()
        r = local.s.get(url)
    else:
        r = requests.get(url)
    return r.status_code
with ThreadPoolExecutor(pool) as ex:
    codes = list(ex.map(get, urls))
bad = sum(1 for c in codes if c >= 400)
sys.exit(1 if bad else 0)
'''


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--pool", type=int, default=8)
    ap.add_argument("--delay-ms", type=int, default=0, help="per-request server delay (0: pure throughput)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--poolfetch", default="target/release/poolfetch")
    ap.add_argument("--baseline", help="another poolfetch binary: its two engines get rows too (before/after)")
    ap.add_argument("--no-python", action="store_true", help="leave out the Python peers (slow)")
    args = ap.parse_args()

    if not os.path.exists(args.poolfetch):
        sys.exit(f"{args.poolfetch} not found: run `cargo build --release` first")
    server = subprocess.Popen([args.poolfetch, "serve", "--addr", "127.0.0.1:0"], stdout=subprocess.PIPE, text=True)
    try:
        base = server.stdout.readline().strip().removeprefix("listening on ")
        route = (lambda i: f"/delay/{args.delay_ms}?n={i}") if args.delay_ms else (lambda i: f"/todos/{i % 200 + 1}")
        urls = [base + route(i) for i in range(args.requests)]
        tmp = tempfile.mkdtemp(prefix="poolfetch-peers-")
        url_file = os.path.join(tmp, "urls.txt")
        with open(url_file, "w") as f:
            f.write("\n".join(urls) + "\n")
        curl_config = os.path.join(tmp, "curl.cfg")
        with open(curl_config, "w") as f:
            for url in urls:
                f.write(f'url = "{url}"\noutput = "/dev/null"\n')
        peer_script = os.path.join(tmp, "peer.py")
        with open(peer_script, "w") as f:
            f.write(PY_PEER)

        P = str(args.pool)
        tools = {
            "poolfetch": [args.poolfetch, "fetch", "-q", "--pool", P, "--body", "none", "-o", "/dev/null", url_file],
            "poolfetch --engine async": [args.poolfetch, "fetch", "-q", "--engine", "async", "--pool", P, "--body", "none", "-o", "/dev/null", url_file],
            "poolfetch async h2c": [args.poolfetch, "fetch", "-q", "--engine", "async", "--http2-prior-knowledge", "--pool", P, "--body", "none", "-o", "/dev/null", url_file],
        }
        if args.baseline:
            tools["baseline threads"] = [args.baseline] + tools["poolfetch"][1:]
            tools["baseline --engine async"] = [args.baseline] + tools["poolfetch --engine async"][1:]
        if shutil.which("oha"):
            # oha loads one URL; the same host and route, so the same work per request.
            tools[f"oha -c {P} (one URL)"] = ["oha", "--no-tui", "-n", str(args.requests), "-c", P, urls[0]]
            tools[f"oha --http2 -c {P} (one URL)"] = ["oha", "--no-tui", "--http2", "-n", str(args.requests), "-c", "1", "-p", P, urls[0]]
        if shutil.which("curl"):
            tools[f"curl --parallel-max {P}"] = ["curl", "-s", "--fail", "--parallel", "--parallel-max", P, "-K", curl_config]
        has_requests = not args.no_python and subprocess.run([sys.executable, "-c", "import requests"], capture_output=True).returncode == 0
        if has_requests:
            tools[f"python TPE({P}) requests.get"] = [sys.executable, peer_script, url_file, P, "get"]
            tools[f"python TPE({P}) Session/thread"] = [sys.executable, peer_script, url_file, P, "session"]
        missing = [] if has_requests or args.no_python else ["python requests (pip install requests)"]
        if not shutil.which("curl"):
            missing.append("curl")
        if not shutil.which("oha"):
            missing.append("oha (cargo install oha --locked)")

        walls = {name: [] for name in tools}
        cpus = {name: [] for name in tools}
        for _ in range(args.repeat):
            for name, cmd in tools.items():  # interleaved, so drift hits every tool alike
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                walls[name].append(time.perf_counter() - start)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpus[name].append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
                if done.returncode != 0:
                    sys.exit(f"{name} failed ({done.returncode}): {done.stderr.strip()[:300]}")

        ideal = ""
        if args.delay_ms:
            ideal = f", ideal {-(-args.requests // args.pool) * args.delay_ms / 1000:.2f} s"
        print(f"{args.requests} requests, pool {P}, delay {args.delay_ms} ms{ideal}; median of {args.repeat} runs")
        print(f"{'tool':34} {'wall (s)':>9} {'req/s':>9} {'CPU/req (us)':>13} {'poolfetch speed-up':>19}")
        ours = statistics.median(walls["poolfetch"])
        for name, samples in walls.items():
            median = statistics.median(samples)
            cpu = statistics.median(cpus[name]) / args.requests * 1e6
            print(f"{name:34} {median:9.3f} {args.requests / median:9.0f} {cpu:13.1f} {median / ours:18.2f}x")
        for m in missing:
            print(f"(skipped: {m} not installed)")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
