"""poolfetch: fetch many URLs on a fixed-size Rust pool and get one record per URL back.

It replaces ``loop.run_in_executor(executor, requests.get, url)`` + ``asyncio.gather`` (or a
semaphore, or batches of 10, or ``responses[i] = ...``) with one call::

    import poolfetch

    for record in poolfetch.fetch(urls, pool=5):        # in input order, as they finish
        ...
    records = await poolfetch.gather(urls, pool=20)     # a list, in input order
    async for record in poolfetch.as_completed(urls):  # in completion order
        ...

A record is a plain dict with the fields of the JSON record ``poolfetch fetch`` writes
(``docs/record.schema.json``): ``index``, ``url``, ``ok``, ``status``, ``body`` (already
parsed), ``error`` (``{"kind": ..., "message": ...}``), the timings, and so on. A URL that
fails is a record with ``ok`` false, never an exception; bad arguments raise ``ValueError``
or ``TypeError`` before any request is sent.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import json
import os
import urllib.parse
from typing import (
    Any,
    AsyncIterator,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from . import _poolfetch

# At exit, no thread of ours takes the GIL again: a daemon thread still iterating fetch()
# waits for the process to end instead of aborting it.
atexit.register(_poolfetch._at_exit)

__all__ = [
    "DEFAULT_POOL",
    "Record",
    "as_completed",
    "bench",
    "fetch",
    "gather",
    "serve",
]

DEFAULT_POOL: int = _poolfetch.DEFAULT_POOL

#: One record: the JSON record of ``poolfetch fetch`` as a dict.
Record = Dict[str, Any]

_PathLike = Union[str, "os.PathLike[str]"]


def fetch(
    urls: Iterable[Union[str, Dict[str, Any]]], pool: int = DEFAULT_POOL, **options: Any
) -> Iterator[Record]:
    """Fetch every URL on a pool of ``pool`` workers; yield one record per URL.

    Records stream as they may leave: in input order by default (``order="completion"``:
    as they finish). ``urls`` may be any iterable, a generator included: it is read as the
    pool takes URLs, and memory stays bounded by the window (4 x pool records), not by the
    number of URLs. The GIL is released while waiting.

    Ctrl-C (``KeyboardInterrupt``) stops sending at once; requests in flight get a grace of
    a second; the records that are ready are yielded, then ``KeyboardInterrupt`` is raised.
    Leaving the loop early (``break``) stops the run the same way.

    An item of ``urls`` is a URL (``str``) or a request (``dict``) with the keys of a JSON
    request line of ``poolfetch fetch``: ``url``, ``method``, ``headers``, one of ``json``,
    ``data``, ``form`` and ``body_file``, ``timeout`` (seconds) and ``meta`` (anything JSON,
    copied into its record). A dict that is not a request gets an ``invalid_request`` record.

    The arguments are those of ``poolfetch fetch`` (seconds are floats): ``engine`` is
    ``"threads"`` (blocking ureq calls on a thread pool) or ``"async"`` (hyper on tokio;
    ``http2=True`` offers HTTP/2); ``body`` is ``"auto"``, ``"json"``, ``"text"``, ``"none"``
    or ``"bytes"`` (the body as ``bytes``); ``json``/``data``/``method`` make every request a
    POST (or ``method``) with that body (``data`` a ``str``, ``bytes`` or a dict sent as a
    form); ``include_headers=True`` puts the response's header fields in each record
    (``header_fields=[...]``: only those); ``rate`` and ``rate_per_host`` are a number per
    second or ``"30/m"``, ``"0.5/s"``, ``"100/h"``; ``batch_size`` gathers per batch;
    ``shard=(k, n)`` fetches the inputs whose index is k modulo n; ``resolve=["host:443:10.0.0.1"]``
    pins names to addresses and ``client_cert``/``client_key`` show a client certificate, as
    curl's ``--resolve`` and ``--cert``/``--key``.

    ``output="records.jsonl"`` also writes the records there (JSON Lines), and with
    ``resume=True`` a run killed part-way continues where it stopped: only inputs without a
    final record are fetched (``retry_failed=True``: and those not ok), and the file ends with
    one record per input, in input order. ``urls`` must then be a list or tuple (it is read
    twice), and the yielded records are this run's.
    """
    stream = _start(urls, pool, **options)
    return _records(stream, _reader(options))


async def gather(urls: Iterable[Union[str, Dict[str, Any]]], pool: int = DEFAULT_POOL, **options: Any) -> List[Record]:
    """Fetch every URL on the caller's running event loop; the records, in input order.

    Takes ``fetch``'s arguments. Cancelling the task cancels the run: nothing more is sent.
    """
    options.setdefault("order", "input")
    return [record async for record in _async_records(urls, pool, options)]


async def as_completed(
    urls: Iterable[Union[str, Dict[str, Any]]], pool: int = DEFAULT_POOL, **options: Any
) -> AsyncIterator[Record]:
    """Fetch every URL; yield each record as it finishes (``async for``).

    Takes ``fetch``'s arguments. Leaving the loop, or cancelling the task, cancels the run.
    """
    options["order"] = "completion"
    async for record in _async_records(urls, pool, options):
        yield record


class serve:
    """The embedded test server on 127.0.0.1 and a free port, for demos and tests.

    ``with poolfetch.serve(latency=0.1) as server:`` ... ``server.url`` is
    ``http://127.0.0.1:PORT``; its routes are those of ``poolfetch serve --help``
    (``/todos/ID``, ``/delay/MS``, ``/status/CODE``, ``/bytes/N``, ...).
    """

    def __init__(self, latency: float = 0.0) -> None:
        self._server = _poolfetch.Server(latency)
        self.url: str = self._server.url
        #: A second port whose answers are broken HTTP, chosen by the path.
        self.faults_url: str = self._server.faults_url

    def stats(self) -> Dict[str, int]:
        """Requests answered, connections accepted, most requests in flight at once."""
        requests, connections, max_in_flight = self._server.stats()
        return {
            "requests": requests,
            "connections": connections,
            "max_in_flight": max_in_flight,
        }

    def stop(self) -> None:
        """Stop it (leaving the ``with`` block does)."""
        self._server.stop()

    def __enter__(self) -> "serve":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def bench(
    requests: int = 100,
    latency: float = 0.05,
    *,
    pools: Optional[Sequence[int]] = None,
    engines: Optional[Sequence[str]] = None,
    runs: Optional[int] = None,
    batch_size: Optional[int] = None,
    url: Optional[str] = None,
) -> List[Dict[str, Any]]:
    """``poolfetch bench``: each pool (and engine) on the same work; one dict per setup.

    On the embedded server with ``latency`` seconds per request unless ``url`` is given. The
    dicts are those of ``poolfetch bench --export-json``: ``setup``, ``wall_ms`` (median and
    spread of the runs), ``req_per_s``, ``wall_over_ideal``, ``runs``, ...
    """
    text = _poolfetch.bench(
        requests,
        latency,
        None if pools is None else list(pools),
        None if engines is None else list(engines),
        runs,
        batch_size,
        url,
    )
    return json.loads(text)


def _start(urls: Iterable[Union[str, Dict[str, Any]]], pool: int, **options: Any) -> Any:
    """Check the arguments and start the run (a ``_poolfetch.Stream``)."""
    if isinstance(urls, (str, bytes)):
        raise TypeError("urls is an iterable of URLs: give [url] for one")
    if not isinstance(pool, int) or isinstance(pool, bool):
        raise TypeError(f"pool= must be an int, not {type(pool).__name__}")
    if options.get("body") == "bytes":
        options["body"] = "base64"
    data = options.get("data")
    if isinstance(data, str):
        options["data"] = data.encode()
    elif isinstance(data, (dict, list, tuple)):
        # A form, as requests' data={...} sends it.
        options["data"] = urllib.parse.urlencode(data).encode()
    for name in ("rate", "rate_per_host"):
        rate = options.get(name)
        if isinstance(rate, bool):
            raise TypeError(f"{name}= is a number per second or a str like '30/m', not a bool")
        if isinstance(rate, (int, float)):
            options[name] = f"{rate!r}/s"
    headers = options.get("headers")
    if headers is not None:
        options["headers"] = [(str(name), str(value)) for name, value in dict(headers).items()]
    body = options.get("json")
    if body is not None and not isinstance(body, str):
        options["json"] = json.dumps(body)
    for name in ("output_dir", "cacert", "output", "client_cert", "client_key"):
        if options.get(name) is not None:
            options[name] = os.fspath(options[name])
    return _poolfetch.start(urls, pool, **options)


def _reader(options: Dict[str, Any]) -> Any:
    """How a record's JSON line becomes a dict: with ``body="bytes"``, the body as ``bytes``."""
    if options.get("body") != "bytes":
        return json.loads

    def loads(line: bytes) -> Record:
        record = json.loads(line)
        if record.get("body") is not None:
            record["body"] = base64.b64decode(record["body"])
        return record

    return loads


def _records(stream: Any, loads: Any) -> Iterator[Record]:
    try:
        while True:
            batch = stream.next_batch()
            if batch is None:
                return
            for line in batch.splitlines():
                yield loads(line)
    finally:
        # Left early (break, an exception in the loop, garbage collection): stop the run.
        stream.cancel()


async def _async_records(
    urls: Iterable[Union[str, Dict[str, Any]]], pool: int, options: Dict[str, Any]
) -> AsyncIterator[Record]:
    # Started (and bad arguments refused) before the first await.
    stream = _start(urls, pool, **options)
    loop = asyncio.get_running_loop()
    loads = _reader(options)
    try:
        while True:
            # Each hop to the executor brings every record that is ready, not one.
            batch = await loop.run_in_executor(None, stream.next_batch)
            if batch is None:
                return
            for line in batch.splitlines():
                yield loads(line)
    finally:
        # Cancelled, or left early: nothing more is sent.
        stream.cancel()
