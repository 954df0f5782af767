#!/usr/bin/env python3
"""poolfetch from Python against the patterns it replaces, on the same loopback server.

The server is poolfetch's embedded one, in a process of its own (so the client's CPU is the
client's). Every pattern runs at the same pool size, interleaved, REPEAT times; medians.

    python python/bench_seed.py [--repeat 3] [--quick]

Needs: poolfetch (this package), requests, httpx, aiohttp.
Work:
  1. 200 x 100 ms at pool 5 and 20: wall / ideal, ideal = ceil(200 / pool) x 100 ms, and wall /
     (waves x the server's measured answer time, which on this machine is not 100 ms);
  2. 20,000 x 0 ms at pool 8: req/s and CPU us per request;
  3. peak RSS of a Python process fetching 10,000 and 100,000 URLs (a generator) with poolfetch.
"""

import argparse
import asyncio
import concurrent.futures
import math
import resource
import statistics
import subprocess
import sys
import textwrap
import time

import poolfetch


def start_server(latency):
    code = (
        "import sys, poolfetch\n"
        f"s = poolfetch.serve(latency={latency})\n"
        "print(s.url, flush=True)\n"
        "sys.stdin.read()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    url = proc.stdout.readline().strip()
    return proc, url


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- the patterns, each `(urls, pool) -> number of ok responses` -------------------------


def executor_requests(urls, pool):
    """The seed: loop.run_in_executor(executor, requests.get, url) + gather."""
    import requests

    async def main():
        loop = asyncio.get_running_loop()
        with concurrent.futures.ThreadPoolExecutor(pool) as executor:
            futures = [loop.run_in_executor(executor, requests.get, url) for url in urls]
            return await asyncio.gather(*futures)

    return sum(r.status_code == 200 for r in asyncio.run(main()))


def thread_pool_session(urls, pool):
    """ThreadPoolExecutor(pool) + one requests.Session per thread, map in order."""
    import threading

    import requests

    local = threading.local()

    def get(url):
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        return session.get(url).status_code

    with concurrent.futures.ThreadPoolExecutor(pool) as executor:
        return sum(status == 200 for status in executor.map(get, urls))


def httpx_gather(urls, pool):
    """httpx.AsyncClient (pool-sized connection limit) + gather."""
    import httpx

    async def main():
        limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:
            responses = await asyncio.gather(*(client.get(url) for url in urls))
            return sum(r.status_code == 200 for r in responses)

    return asyncio.run(main())


def aiohttp_semaphore(urls, pool):
    """aiohttp + a semaphore of pool + gather."""
    import aiohttp

    async def main():
        semaphore = asyncio.Semaphore(pool)
        connector = aiohttp.TCPConnector(limit=pool)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def get(url):
                async with semaphore:
                    async with session.get(url) as response:
                        await response.read()
                        return response.status

            statuses = await asyncio.gather(*(get(url) for url in urls))
            return sum(status == 200 for status in statuses)

    return asyncio.run(main())


def poolfetch_fetch(urls, pool):
    """for record in poolfetch.fetch(urls, pool)."""
    return sum(r["ok"] for r in poolfetch.fetch(urls, pool))


def poolfetch_gather(urls, pool):
    """await poolfetch.gather(urls, pool)."""
    return sum(r["ok"] for r in asyncio.run(poolfetch.gather(urls, pool)))


PATTERNS = {
    "run_in_executor + requests.get": executor_requests,
    "ThreadPoolExecutor + Session": thread_pool_session,
    "httpx.AsyncClient + gather": httpx_gather,
    "aiohttp + semaphore": aiohttp_semaphore,
    "poolfetch.fetch": poolfetch_fetch,
    "poolfetch.gather": poolfetch_gather,
}


def timed(pattern, urls, pool):
    cpu, start = cpu_seconds(), time.perf_counter()
    ok = pattern(urls, pool)
    wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    if ok != len(urls):
        raise SystemExit(f"{pattern.__name__}: {ok} of {len(urls)} ok")
    return wall, cpu


def waves(repeat, quick):
    proc, base = start_server(0.1)
    try:
        n = 40 if quick else 200
        # What one answer of "100 ms" takes on this machine (the server's sleep overshoots):
        # the median of requests one at a time on a kept-alive connection.
        one = poolfetch.fetch([f"{base}/todos/1?w={i}" for i in range(7)], 1)
        answer = statistics.median((r["finished_ms"] - r["started_ms"]) / 1000 for r in one)
        print(f"\n{n} x 100 ms; one answer takes {answer * 1000:.1f} ms here")
        print(f"{'pattern':34} {'pool':>4} {'wall s':>8} {'/ideal':>7} {'/waves x answer':>16}")
        for pool in (5, 20):
            ideal_waves = math.ceil(n / pool)
            walls = {name: [] for name in PATTERNS}
            for r in range(repeat):
                for name, pattern in PATTERNS.items():
                    urls = [f"{base}/todos/{i % 200 + 1}?r={r}" for i in range(n)]
                    walls[name].append(timed(pattern, urls, pool)[0])
            for name, samples in walls.items():
                wall = statistics.median(samples)
                print(
                    f"{name:34} {pool:>4} {wall:>8.3f} {wall / (ideal_waves * 0.1):>7.3f}"
                    f" {wall / (ideal_waves * answer):>16.3f}"
                )
    finally:
        proc.kill()


def throughput(repeat, quick):
    proc, base = start_server(0.0)
    try:
        n, pool = (2000 if quick else 20000), 8
        # Two patterns get a tenth of the work. requests.get opens (and leaks until garbage
        # collection) a connection per call: at 20,000 it runs out of file descriptors ("Too
        # many open files"). httpx slows as more requests wait on its pool (291 req/s with
        # 200 gathered, 236 with 1,000, 167 with 2,000): 20,000 would take minutes a run.
        size = {name: n for name in PATTERNS}
        size["run_in_executor + requests.get"] = n // 10
        size["httpx.AsyncClient + gather"] = n // 10
        print(f"\n{n} x 0 ms at pool {pool}, median of {repeat} interleaved runs")
        results = {name: [] for name in PATTERNS}
        for r in range(repeat):
            for name, pattern in PATTERNS.items():
                urls = [f"{base}/todos/{i % 200 + 1}?r={r}" for i in range(size[name])]
                results[name].append(timed(pattern, urls, pool))
        rows = {
            name: (
                size[name] / statistics.median(w for w, _ in samples),
                statistics.median(c for _, c in samples) / size[name] * 1e6,
            )
            for name, samples in results.items()
        }
        fetch_rate = rows["poolfetch.fetch"][0]
        print(f"{'pattern':34} {'req/s':>8} {'CPU us/req':>11} {'poolfetch.fetch is':>20}")
        for name, (rate, cpu) in rows.items():
            note = "" if size[name] == n else f"  ({size[name]} requests)"
            print(f"{name:34} {rate:>8.0f} {cpu:>11.1f} {fetch_rate / rate:>19.2f}x{note}")
    finally:
        proc.kill()


def memory(quick):
    proc, base = start_server(0.0)
    try:
        sizes = (2000, 20000) if quick else (10000, 100000)
        print("\npeak RSS of a Python process fetching N URLs from a generator (body='none')")
        figures = []
        for n in sizes:
            code = textwrap.dedent(
                f"""
                import resource, poolfetch
                urls = ("{base}/todos/%d" % (i % 200 + 1) for i in range({n}))
                ok = sum(r["ok"] for r in poolfetch.fetch(urls, 8, body="none"))
                assert ok == {n}, ok
                print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
                """
            )
            kib = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
            figures.append(kib)
            print(f"  N = {n:>7}: {kib / 1024:.1f} MiB")
        print(f"  ratio: {figures[1] / figures[0]:.3f}")
    finally:
        proc.kill()


def main():
    # requests.get opens a connection per call, and 20,000 of them outrun a 1,024-file limit
    # before the garbage collector closes them: raise ours (the server process inherits it).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smaller work, to try the script")
    parser.add_argument(
        "--parts", default="waves,throughput,memory", help="which measurements (comma-separated)"
    )
    args = parser.parse_args()
    parts = args.parts.split(",")
    if "waves" in parts:
        waves(args.repeat, args.quick)
    if "throughput" in parts:
        throughput(args.repeat, args.quick)
    if "memory" in parts:
        memory(args.quick)


if __name__ == "__main__":
    main()
