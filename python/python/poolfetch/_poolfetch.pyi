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

def start(urls: Iterable[Any], pool: int = 5, **options: Any) -> Stream:
    """Start a run; the keywords are ``poolfetch.Options``."""
def bench(
    requests: int = 100,
    latency: float = 0.05,
    pools: Optional[Sequence[int]] = None,
    engines: Optional[Sequence[str]] = None,
    runs: Optional[int] = None,
    batch_size: Optional[int] = None,
    url: Optional[str] = None,
) -> str: ...
