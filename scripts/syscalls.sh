#!/usr/bin/env bash
# Syscalls per request of `poolfetch fetch`, for both engines, counted by `strace -f -c`.
# usage: scripts/syscalls.sh [BIN] [REQUESTS] [POOL]   (default: target/release/poolfetch 5000 8)
# The server is `poolfetch serve` in its own process on 127.0.0.1; only the client is traced.
set -euo pipefail
BIN=${1:-target/release/poolfetch}
N=${2:-5000}
POOL=${3:-8}
command -v strace >/dev/null || { echo "strace is not installed (apt install strace)"; exit 1; }
OUT=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null; rm -rf "$OUT"' EXIT
"$BIN" serve --addr 127.0.0.1:0 > "$OUT/serve" 2>/dev/null & SERVER=$!
for _ in $(seq 100); do grep -q listening "$OUT/serve" 2>/dev/null && break; sleep 0.05; done
ADDR=$(head -1 "$OUT/serve" | sed 's#listening on ##')
for ENGINE in threads async; do
  strace -f -c -o "$OUT/strace-$ENGINE" "$BIN" fetch -q -p "$POOL" --engine "$ENGINE" --body none \
    --template "$ADDR/todos/1?n={}" --range "1..$N" > /dev/null || true
  TOTAL=$(awk '$NF != "total" && $4 ~ /^[0-9]+$/ {s += $4} END {print s}' "$OUT/strace-$ENGINE")
  echo "$ENGINE pool $POOL, $N requests: $TOTAL syscalls, $(echo "scale=2; $TOTAL / $N" | bc) per request"
  sort -k4 -n -r "$OUT/strace-$ENGINE" | awk 'NR>0 && $NF != "total" && $4 ~ /^[0-9]+$/ {printf "  %-16s %8d  (%.2f/req)\n", $NF, $4, $4/'"$N"'}' | head -8
done
