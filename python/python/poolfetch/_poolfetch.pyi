"""The Rust side of poolfetch (see ``poolfetch``: use that, not this)."""

from typing import Any, Iterable, List, Optional, Sequence, Tuple

DEFAULT_POOL: int

class Stream:
    """A run in progress."""

    def next_batch(self, max: int = 1024) -> Optional[bytes]:
        """Up to ``max`` records as JSON lines; ``None`` at the end."""
    def cancel(self) -> None:
        """Stop sending; every input read so far still gets its record."""

class Server:
    url: str
    faults_url: str
    def __init__(self, latency: float = 0.0) -> None: ...
    def stats(self) -> Tuple[int, int, int]: ...
    def stop(self) -> None: ...

def start(
    urls: Iterable[Any],
    pool: int = 5,
    *,
    order: str = "input",
    engine: str = "threads",
    http2: bool = False,
    timeout: float = 30.0,
    connect_timeout: Optional[float] = None,
    max_time: Optional[float] = None,
    retries: int = 0,
    body: str = "auto",
    max_body: Optional[int] = None,
    headers: Optional[List[Tuple[str, str]]] = None,
    method: Optional[str] = None,
    json: Optional[str] = None,
    data: Optional[bytes] = None,
    output_dir: Optional[str] = None,
    batch_size: Optional[int] = None,
    window: Optional[int] = None,
    shard: Optional[Tuple[int, int]] = None,
    compressed: bool = False,
    insecure: bool = False,
    cacert: Optional[str] = None,
    proxy: Optional[str] = None,
    rate: Optional[int] = None,
    per_host: Optional[int] = None,
    max_redirects: int = 10,
    output: Optional[str] = None,
    resume: bool = False,
    retry_failed: bool = False,
) -> Stream: ...
def bench(
    requests: int = 100,
    latency: float = 0.05,
    pools: Optional[Sequence[int]] = None,
    engines: Optional[Sequence[str]] = None,
    runs: Optional[int] = None,
    batch_size: Optional[int] = None,
    url: Optional[str] = None,
) -> str: ...
