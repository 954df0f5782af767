"""Types of the poolfetch package: the keywords of ``fetch``, ``gather`` and ``as_completed``
are ``Options`` (one table, checked by type checkers: a typo'd keyword is an error), and a
record is a ``Record``."""

import os
from typing import Any, AsyncIterator, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from typing_extensions import Literal, TypedDict, Unpack

DEFAULT_POOL: int

_PathLike = Union[str, "os.PathLike[str]"]

class Options(TypedDict, total=False):
    """The keywords of ``fetch``, ``gather`` and ``as_completed`` (those of ``poolfetch
    fetch``; seconds are floats)."""

    order: Literal["input", "completion"]
    engine: Literal["threads", "async"]
    http2: bool
    timeout: float
    connect_timeout: Optional[float]
    max_time: Optional[float]
    retries: int
    body: Literal["auto", "json", "text", "none", "bytes", "base64"]
    max_body: Optional[int]
    headers: Optional[Dict[str, str]]
    method: Optional[str]
    json: Any
    data: Union[str, bytes, Dict[str, str], Sequence[Tuple[str, str]], None]
    output_dir: Optional[_PathLike]
    batch_size: Optional[int]
    window: Optional[int]
    shard: Optional[Tuple[int, int]]
    compressed: bool
    insecure: bool
    cacert: Optional[_PathLike]
    proxy: Optional[str]
    rate: Union[float, str, None]
    rate_per_host: Union[float, str, None]
    per_host: Optional[int]
    include_headers: bool
    header_fields: Optional[Sequence[str]]
    resolve: Optional[Sequence[str]]
    client_cert: Optional[_PathLike]
    client_key: Optional[_PathLike]
    max_redirects: int
    output: Optional[_PathLike]
    resume: bool
    retry_failed: bool

class RecordError(TypedDict):
    kind: str
    message: str

class Record(TypedDict, total=False):
    """One record: the JSON record of ``poolfetch fetch`` (``docs/record.schema.json``)."""

    index: int
    url: str
    method: str
    ok: bool
    status: Optional[int]
    http_version: Optional[str]
    final_url: Optional[str]
    content_type: Optional[str]
    remote_addr: Optional[str]
    bytes: int
    content_encoding: str
    decoded_bytes: int
    attempts: int
    worker: Optional[int]
    queued_ms: float
    started_ms: float
    started_at: str
    dns_ms: Optional[float]
    connect_ms: Optional[float]
    tls_ms: Optional[float]
    ttfb_ms: Optional[float]
    finished_ms: float
    body: Any
    body_lossy: bool
    file: Optional[str]
    resumed_from: Optional[int]
    error: Optional[RecordError]
    headers: List[Tuple[str, str]]
    meta: Any

class Request(TypedDict, total=False):
    """A request as data: the keys of a JSON request line of ``poolfetch fetch``."""

    url: str
    method: str
    headers: Union[Dict[str, str], Sequence[Tuple[str, str]]]
    json: Any
    data: str
    form: Union[Dict[str, str], Sequence[Tuple[str, str]]]
    body_file: str
    timeout: Union[float, str]
    meta: Any

_Input = Union[str, Request]

def fetch(urls: Iterable[_Input], pool: int = ..., **options: Unpack[Options]) -> Iterator[Record]: ...
async def gather(
    urls: Iterable[_Input], pool: int = ..., **options: Unpack[Options]
) -> List[Record]: ...
def as_completed(
    urls: Iterable[_Input], pool: int = ..., **options: Unpack[Options]
) -> AsyncIterator[Record]: ...

class serve:
    url: str
    faults_url: str
    def __init__(self, latency: float = 0.0) -> None: ...
    def stats(self) -> Dict[str, int]: ...
    def stop(self) -> None: ...
    def __enter__(self) -> "serve": ...
    def __exit__(self, *exc: object) -> None: ...

def bench(
    requests: int = 100,
    latency: float = 0.05,
    *,
    pools: Optional[Sequence[int]] = None,
    engines: Optional[Sequence[str]] = None,
    runs: Optional[int] = None,
    batch_size: Optional[int] = None,
    url: Optional[str] = None,
) -> List[Dict[str, Any]]: ...
