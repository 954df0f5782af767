#!/usr/bin/env bash
# poolfetch against curl --parallel and a Python ThreadPoolExecutor on the same embedded server.
# Usage: scripts/compare-peers.sh [--requests N] [--pool P] [--delay-ms L] [--repeat R]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
exec python3 scripts/compare_peers.py "$@"
