#!/usr/bin/env python3
"""Run one workload with poolfetch and its peers against the same embedded server, side by side.

Peers (each skipped, saying so, when not installed): oha (`-c P`, one URL; and `--http2`
against poolfetch's HTTP/2 row), `curl --parallel --parallel-max P`, and a Python
`ThreadPoolExecutor(P)` calling `requests.get` (the seed's pattern; no shared Session), plus
the same with one `requests.Session` per thread. Runs are interleaved, repeated, and the
median wall time of each tool is reported with poolfetch's speed ratio to it, and the median
CPU time (user + sys, from getrusage of the child) per request.

    scripts/compare-peers.sh [--requests N] [--pool P] [--delay-ms L] [--repeat R] [--target nginx]
                             [--bodies] [--baseline OLD_BINARY] [--no-python]

`--bodies` adds rows as users run poolfetch: each body parsed into its record and the
records written to a file (the default `--body auto`), beside the `--body none` rows.

`--target nginx` loads an nginx (apt-get install nginx) this script starts with its own
config on two loopback ports: HTTP/1.1 on one and h2c on the other (nginx 1.22 speaks h2c only
on a port of its own), serving the same 200 `/todos/N` documents as files.
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
    ap.add_argument("--target", choices=["embedded", "nginx"], default="embedded", help="the server to load")
    ap.add_argument("--bodies", action="store_true", help="add rows with each body parsed into its record, written to a file")
    args = ap.parse_args()

    if not os.path.exists(args.poolfetch):
        sys.exit(f"{args.poolfetch} not found: run `cargo build --release` first")
    tmp = tempfile.mkdtemp(prefix="poolfetch-peers-")
    if args.target == "nginx":
        if args.delay_ms:
            sys.exit("--delay-ms needs the embedded server (nginx serves files)")
        server, base, base_h2c = start_nginx(tmp)
    else:
        server = subprocess.Popen([args.poolfetch, "serve", "--addr", "127.0.0.1:0"], stdout=subprocess.PIPE, text=True)
        base = server.stdout.readline().strip().removeprefix("listening on ")
        base_h2c = base
    try:
        route = (lambda i: f"/delay/{args.delay_ms}?n={i}") if args.delay_ms else (lambda i: f"/todos/{i % 200 + 1}")
        urls = [base + route(i) for i in range(args.requests)]
        h2c_urls = [base_h2c + route(i) for i in range(args.requests)]
        h2c_file = os.path.join(tmp, "urls-h2c.txt")
        with open(h2c_file, "w") as f:
            f.write("\n".join(h2c_urls) + "\n")
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
            "poolfetch async h2c": [args.poolfetch, "fetch", "-q", "--engine", "async", "--http2-prior-knowledge", "--pool", P, "--body", "none", "-o", "/dev/null", h2c_file],
        }
        if args.bodies:
            # As users run it: each body parsed into its record, the records written to a file.
            records = os.path.join(tmp, "records.jsonl")
            tools["poolfetch, bodies in records"] = [args.poolfetch, "fetch", "-q", "--pool", P, "-o", records, url_file]
            tools["poolfetch async, bodies in records"] = [args.poolfetch, "fetch", "-q", "--engine", "async", "--pool", P, "-o", records, url_file]
        if args.baseline:
            tools["baseline threads"] = [args.baseline] + tools["poolfetch"][1:]
            tools["baseline --engine async"] = [args.baseline] + tools["poolfetch --engine async"][1:]
        if shutil.which("oha"):
            # oha loads one URL; the same host and route, so the same work per request.
            tools[f"oha -c {P} (one URL)"] = ["oha", "--no-tui", "-n", str(args.requests), "-c", P, urls[0]]
            tools[f"oha --http2 -c 1 -p {P} (one URL)"] = ["oha", "--no-tui", "--http2", "-n", str(args.requests), "-c", "1", "-p", P, h2c_urls[0]]
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
        names = list(tools)
        for round_ in range(args.repeat):
            # Interleaved, so drift hits every tool alike, and each round starts at another
            # tool: a fixed order let the first tool of every round read up to 13 % slow.
            shift = round_ % len(names)
            for name in names[shift:] + names[:shift]:
                cmd = tools[name]
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
        target = "nginx 1 worker per core" if args.target == "nginx" else "the embedded server"
        print(f"{args.requests} requests to {target}, pool {P}, delay {args.delay_ms} ms{ideal}; median of {args.repeat} runs")
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


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_nginx(tmp):
    """nginx in the foreground on two loopback ports (HTTP/1.1, h2c), serving /todos/1..200."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        sys.exit("nginx not found: apt-get install nginx")
    root = os.path.join(tmp, "www")
    os.makedirs(os.path.join(root, "todos"))
    for i in range(1, 201):
        with open(os.path.join(root, "todos", str(i)), "w") as f:
            done = "true" if i % 3 == 0 else "false"
            f.write(f'{{"userId":{(i - 1) // 20 + 1},"id":{i},"title":"todo number {i}","completed":{done}}}')
    for path in (tmp, root, os.path.join(root, "todos")):
        os.chmod(path, 0o755)
    http1, h2c = free_port(), free_port()
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""daemon off;
worker_processes auto;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    default_type application/json;
    keepalive_requests 1000000;
    http2_max_requests 1000000;
    server {{ listen 127.0.0.1:{http1}; root {root}; }}
    server {{ listen 127.0.0.1:{h2c} http2; root {root}; }}
}}
""")
    server = subprocess.Popen([nginx, "-c", conf], stderr=subprocess.DEVNULL)
    import socket
    for _ in range(200):  # bounded: at most 2 s for both ports to listen
        try:
            for port in (http1, h2c):
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.01)
    else:
        server.terminate()
        sys.exit("nginx did not start listening")
    return server, f"http://127.0.0.1:{http1}", f"http://127.0.0.1:{h2c}"


if __name__ == "__main__":
    main()
