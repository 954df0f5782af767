"""poolfetch from Python, against its embedded server on 127.0.0.1 (no other host is used).

Every wait is bounded; counters are polled instead of sleeping before a signal or a cancel.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import poolfetch


def wait_until(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.fixture
def server():
    with poolfetch.serve() as s:
        yield s


def test_records_come_in_input_order_when_later_requests_finish_first(server):
    # Index 0 takes longest: every later one finishes first, and still comes after it.
    urls = [f"{server.url}/delay/{300 - 30 * i}" for i in range(8)]
    records = list(poolfetch.fetch(urls, pool=8))
    assert [r["index"] for r in records] == list(range(8))
    assert [r["url"] for r in records] == urls
    assert all(r["ok"] and r["status"] == 200 for r in records)
    assert records[0]["finished_ms"] > records[7]["finished_ms"]


def test_completion_order_and_as_completed_give_records_as_they_finish(server):
    urls = [f"{server.url}/delay/{300 - 30 * i}" for i in range(8)]
    by_completion = [r["index"] for r in poolfetch.fetch(urls, pool=8, order="completion")]
    assert sorted(by_completion) == list(range(8))
    assert by_completion[-1] == 0, by_completion

    async def collect():
        return [r async for r in poolfetch.as_completed(urls, pool=8)]

    records = asyncio.run(collect())
    finished = [r["finished_ms"] for r in records]
    assert finished == sorted(finished)
    assert sorted(r["index"] for r in records) == list(range(8))


def test_gather_returns_a_list_in_input_order_and_bodies_are_parsed(server):
    urls = [f"{server.url}/todos/{i}" for i in range(1, 31)]
    records = asyncio.run(poolfetch.gather(urls, pool=7, engine="async"))
    assert [r["index"] for r in records] == list(range(30))
    assert [r["body"]["id"] for r in records] == list(range(1, 31))
    assert {r["worker"] for r in records} <= set(range(7))
    assert server.stats()["max_in_flight"] <= 7


def test_batches_wait_for_the_whole_previous_batch(server):
    urls = [f"{server.url}/delay/{20 + 10 * (i % 3)}?n={i}" for i in range(12)]
    records = list(poolfetch.fetch(urls, pool=4, batch_size=4))
    for batch in range(1, 3):
        previous = records[4 * (batch - 1) : 4 * batch]
        current = records[4 * batch : 4 * (batch + 1)]
        assert min(r["started_ms"] for r in current) >= max(r["finished_ms"] for r in previous)


def test_one_record_per_input_whatever_fails_with_typed_errors(server):
    closed = _closed_port()
    urls = [
        f"{server.url}/todos/1",
        "not a url",
        f"{server.url}/status/503",
        f"http://127.0.0.1:{closed}/",
        f"{server.faults_url}/malformed-status",
        f"{server.url}/delay/2000",
    ]

    def items():
        yield from urls
        yield 42  # not a str: a record too, not an exception

    records = list(poolfetch.fetch(items(), pool=3, max_time=0.5))
    assert [r["index"] for r in records] == list(range(7))
    kinds = [r["error"] and r["error"]["kind"] for r in records]
    assert kinds == [None, "invalid_url", "status", "connect", "protocol", "timeout", "invalid_url"]
    assert records[2]["status"] == 503 and not records[2]["ok"]
    assert records[1]["attempts"] == 0


def test_bad_arguments_raise_before_any_request(server):
    urls = [f"{server.url}/todos/1"]
    for bad in [
        dict(pool=-1),
        dict(engine="fibers"),
        dict(order="random"),
        dict(body="xml"),
        dict(timeout=0),
        dict(shard=(3, 2)),
        dict(resume=True),
        dict(json={"a": 1}, data=b"x"),
        dict(proxy="socks4://127.0.0.1:1"),
        dict(method="GE T"),
        dict(rate=0),
    ]:
        with pytest.raises(ValueError):
            poolfetch.fetch(urls, **bad)
    with pytest.raises(TypeError):
        poolfetch.fetch(urls[0])
    with pytest.raises(TypeError):
        poolfetch.fetch([urls[0], 7])
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        poolfetch.fetch(urls, colour="red")
    with pytest.raises(TypeError, match="unexpected keyword argument 'pol'"):
        asyncio.run(poolfetch.gather(urls, pol=3))
    with pytest.raises(ValueError):
        asyncio.run(poolfetch.gather(urls, engine="fibers"))
    # A value of the wrong type names the keyword given, never an internal function.
    with pytest.raises(TypeError, match="^timeout=: ") as raised:
        poolfetch.fetch(urls, timeout="3")
    assert "start" not in str(raised.value)
    with pytest.raises(TypeError, match="pool= must be an int"):
        poolfetch.fetch(urls, pool="3")
    for bad in [dict(rate="fast"), dict(rate_per_host="0/s"), dict(header_fields=["bad name"])]:
        with pytest.raises(ValueError, match=f"{next(iter(bad))}|invalid header"):
            poolfetch.fetch(urls, **bad)
    assert server.stats()["requests"] == 0


def test_requests_as_dicts_carry_their_own_method_headers_body_and_meta(server):
    echo = f"{server.url}/echo"
    inputs = [
        {"url": echo, "method": "PUT", "json": {"a": [1, 2]}, "headers": {"X-Trace": "t"},
         "meta": {"id": 17}},
        f"{server.url}/todos/2",
        {"url": echo, "form": {"k": "v w"}, "meta": ["any", 1]},
        {"url": echo, "mehtod": "GET"},
        {"url": echo, "meta": b"not JSON"},
    ]
    for records in [list(poolfetch.fetch(inputs)), asyncio.run(poolfetch.gather(inputs))]:
        put, todo, form, typo, unserializable = records
        assert put["body"]["method"] == "PUT"
        assert put["body"]["headers"]["x-trace"] == "t"
        assert json.loads(put["body"]["data"]) == {"a": [1, 2]}
        assert put["meta"] == {"id": 17}
        assert todo["ok"] and "meta" not in todo
        assert form["body"]["data"] == "k=v+w" and form["meta"] == ["any", 1]
        assert typo["error"]["kind"] == "invalid_request"
        assert typo["error"]["message"].startswith("urls[3]: ") and "mehtod" in typo["error"]["message"]
        assert unserializable["error"]["kind"] == "invalid_request"
        assert unserializable["attempts"] == 0


def test_data_takes_str_bytes_and_dicts(server):
    echo = [f"{server.url}/echo"]
    for data, sent in [("a=1", "a=1"), (b"\x01b", "\x01b"), ({"k": "v w"}, "k=v+w")]:
        [record] = poolfetch.fetch(echo, data=data)
        assert record["body"]["method"] == "POST"
        assert record["body"]["data"] == sent


def test_response_headers_and_bytes_bodies(server):
    url = f"{server.url}/response-headers?Set-Cookie=a%3D1&Set-Cookie=b%3D2"
    [record] = poolfetch.fetch([url], include_headers=True, body="bytes")
    cookies = [value for name, value in record["headers"] if name == "set-cookie"]
    assert cookies == ["a=1", "b=2"]
    assert record["body"] == b"ok"
    [record] = poolfetch.fetch([url], header_fields=["Set-Cookie"])
    assert record["headers"] == [["set-cookie", "a=1"], ["set-cookie", "b=2"]]
    [record] = poolfetch.fetch([f"{server.url}/bytes/5"], body="bytes")
    assert isinstance(record["body"], bytes) and len(record["body"]) == 5


def test_rates_take_numbers_and_units(server):
    urls = [f"{server.url}/todos/{i}" for i in (1, 2)]
    for rate in [2, 2.0, "2/s", "120/m"]:
        starts = sorted(r["started_ms"] for r in poolfetch.fetch(urls, rate=rate))
        # One every 500 ms: never sooner.
        assert starts[1] - starts[0] >= 498, (rate, starts)


def test_cancelling_the_asyncio_task_stops_the_run(server):
    urls = [f"{server.url}/delay/1000?n={i}" for i in range(20)]

    async def main():
        task = asyncio.ensure_future(poolfetch.gather(urls, pool=2))
        while server.stats()["requests"] < 2:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Without the cancel, the next two would go out as the first two end (at 1 s).
        await asyncio.sleep(1.5)

    asyncio.run(main())
    assert server.stats()["requests"] == 2


def test_leaving_the_loop_early_stops_the_run(server):
    urls = [f"{server.url}/delay/300?n={i}" for i in range(50)]
    for record in poolfetch.fetch(urls, pool=2):
        assert record["index"] == 0
        break
    time.sleep(1.0)
    # The first pair, and at most the pair dispatched as it finished (before the break's
    # cancel reached the run); going on, pool 2 at 300 ms would have sent 8 or more by now.
    assert server.stats()["requests"] <= 4


def test_a_python_thread_keeps_running_while_fetch_waits(server):
    counted = []
    stop = threading.Event()

    def count():
        n = 0
        while not stop.is_set():
            n += 1
        counted.append(n)

    thread = threading.Thread(target=count)
    thread.start()
    try:
        records = list(poolfetch.fetch([f"{server.url}/delay/400?n={i}" for i in range(3)], pool=1))
    finally:
        stop.set()
        thread.join(10)
    assert len(records) == 3
    # Held through 1.2 s of waiting, the GIL would let the counter run only between batches.
    assert counted[0] > 100_000, counted


def test_a_generator_is_read_as_the_pool_takes_urls(server):
    produced = []

    def urls():
        for i in range(5000):
            produced.append(i)
            yield f"{server.url}/todos/{i % 200 + 1}"

    stream = poolfetch.fetch(urls(), pool=5)
    first = next(stream)
    assert first["index"] == 0
    # The read-ahead is bounded by the window (4 x pool), the records ready for Python (256
    # in the channel) and the batch Python holds (at most as many): far below the 5,000.
    assert len(produced) <= 20 + 2 * 256 + 5, len(produced)
    assert sum(1 for _ in stream) == 4999
    # The thread engine's pool is the concurrency: never more than 5 in flight.
    assert server.stats()["max_in_flight"] <= 5


def test_an_error_in_the_callers_iterable_is_raised_after_the_records_read(server):
    def urls():
        yield f"{server.url}/todos/1"
        yield f"{server.url}/todos/2"
        raise RuntimeError("the list ran dry")

    seen = []
    with pytest.raises(RuntimeError, match="ran dry"):
        for record in poolfetch.fetch(urls(), pool=2):
            seen.append(record["index"])
    assert seen == [0, 1]


def _script(code):
    return [sys.executable, "-c", textwrap.dedent(code)]


def test_ctrl_c_stops_the_run_and_raises_after_the_records_that_are_ready(server):
    # Two quick requests first: the child says when it has their records, so the signal
    # comes while it waits in the loop for the slow ones (a signal that lands while the
    # interpreter runs Python code of its own is raised right there, as Python does).
    code = f"""
        import json, signal, sys, poolfetch
        # A process started in the background by a non-interactive shell inherits SIGINT
        # ignored, and Python then installs no KeyboardInterrupt for it: install it.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        urls = ["{server.url}/todos/1", "{server.url}/todos/2"]
        urls += ["{server.url}/delay/500?n=%d" % i for i in range(8)]
        seen = []
        try:
            for record in poolfetch.fetch(urls, pool=2):
                seen.append(record)
                print("record", flush=True)
        except KeyboardInterrupt:
            print(json.dumps(seen))
            sys.exit(130)
    """
    child = subprocess.Popen(_script(code), stdout=subprocess.PIPE, text=True)
    said = []
    reader = threading.Thread(target=lambda: said.extend(child.stdout), daemon=True)
    reader.start()
    try:
        wait_until(lambda: len(said) >= 2 and server.stats()["requests"] >= 4)
        child.send_signal(signal.SIGINT)
        child.wait(timeout=30)
        reader.join(timeout=30)
    finally:
        child.kill()
    assert child.returncode == 130
    seen = json.loads(said[-1])
    # Every input of the list has its record, in order: the four sent say so, the rest were
    # never sent.
    assert [r["index"] for r in seen] == list(range(10))
    sent = [r for r in seen if r["attempts"] >= 1]
    assert len(sent) == server.stats()["requests"] == 4
    assert all(r["error"]["kind"] == "cancelled" and r["worker"] is None for r in seen if r["attempts"] == 0)


def test_resume_after_a_killed_process_fetches_only_what_is_missing(server, tmp_path):
    output = tmp_path / "records.jsonl"
    urls = [f"{server.url}/delay/100?n={i}" for i in range(30)]
    code = f"""
        import poolfetch
        urls = {urls!r}
        for record in poolfetch.fetch(urls, pool=2, output={str(output)!r}, resume=True):
            pass
    """
    child = subprocess.Popen(_script(code))
    try:
        wait_until(lambda: output.exists() and output.read_text().count("\n") >= 6)
        child.kill()
        child.wait(30)
    finally:
        child.kill()
    written = sum(1 for line in output.read_text().splitlines() if line.endswith("}"))
    fetched = list(poolfetch.fetch(urls, pool=2, output=output, resume=True))
    assert len(fetched) == 30 - written, (len(fetched), written)
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [r["index"] for r in lines] == list(range(30))
    assert all(r["ok"] for r in lines)
    again = list(poolfetch.fetch(urls, pool=2, output=output, resume=True))
    assert again == []


def test_shards_split_the_inputs_and_keep_their_indices(server):
    urls = [f"{server.url}/todos/{i}" for i in range(1, 11)]
    shards = [list(poolfetch.fetch(urls, shard=(k, 3))) for k in range(3)]
    assert [r["index"] for r in shards[1]] == [1, 4, 7]
    assert sorted(r["index"] for s in shards for r in s) == list(range(10))


def test_bench_returns_a_dict_per_setup():
    results = poolfetch.bench(12, 0.01, pools=[2, 4], engines=["threads"], runs=1)
    assert [r["setup"]["pool"] for r in results] == [2, 4]
    assert all(r["runs"][0]["ok"] == 12 for r in results)


def _closed_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_big_json_numbers_arrive_exactly(server):
    big = "123456789012345678901234567890"
    body = '{"n": %s, "f": 0.1000000000000000055511151231257827}' % big
    for engine in ["threads", "async"]:
        [record] = poolfetch.fetch([f"{server.url}/echo"], method="POST", json=body, engine=engine)
        assert record["body"]["json"]["n"] == int(big), record
        assert record["body"]["data"] == body


def test_the_interpreter_exits_cleanly_while_a_daemon_thread_iterates_fetch(server):
    # A generator of fast URLs keeps the run's threads going in and out of the GIL (the run
    # reads the generator, the daemon thread takes batches) when the interpreter exits: it
    # used to abort every time (exit 134, "FATAL: exception not rethrown").
    script = textwrap.dedent(
        f"""
        import threading, time, poolfetch
        urls = ("{server.url}/todos/%d?n=%d" % (i % 200 + 1, i) for i in range(10**6))
        def run():
            for record in poolfetch.fetch(urls, pool=5):
                pass
        threading.Thread(target=run, daemon=True).start()
        time.sleep(0.3)
        print("leaving", flush=True)
        """
    )
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        assert b"leaving" in done.stdout


def test_resolve_pins_a_name_to_this_machine(server):
    port = server.url.rsplit(":", 1)[1]
    url = f"http://api.poolfetch.invalid:{port}/todos/4"
    [record] = poolfetch.fetch([url], resolve=[f"api.poolfetch.invalid:{port}:127.0.0.1"])
    assert record["ok"] and record["body"]["id"] == 4
    with pytest.raises(ValueError, match="resolve="):
        poolfetch.fetch([url], resolve=["no-port"])
