#!/usr/bin/env bash
# Streamed download: poolfetch --output-dir (both engines) against `curl -o`, same server, same
# run, interleaved. Reports median wall, throughput, ratio to curl and peak RSS.
# Usage: scripts/download.sh [BYTES] [REPEAT]   (default 1 GiB, 3 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
BYTES=${1:-1073741824}; REPEAT=${2:-3}
cargo build --release --quiet
bin=target/release/poolfetch
work=$(mktemp -d)
"$bin" serve --addr 127.0.0.1:0 > "$work/serve" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do grep -q listening "$work/serve" 2>/dev/null && break; sleep 0.1; done
url="$(sed -n 's/^listening on //p' "$work/serve")/bytes/$BYTES"

run() { # name command... -> appends "wall rss" to $work/name
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/t" "$@" > /dev/null
  cat "$work/t" >> "$work/$name"
  rm -rf "$work/out" "$work/curl.bin"
}
for _ in $(seq "$REPEAT"); do
  run curl curl -s -o "$work/curl.bin" "$url"
  run threads "$bin" fetch -q --engine threads --output-dir "$work/out" --url "$url"
  run async "$bin" fetch -q --engine async --output-dir "$work/out" --url "$url"
done
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
curl_wall=$(cut -d' ' -f1 "$work/curl" | median)
echo "download of $BYTES bytes, median of $REPEAT interleaved runs"
printf '%-18s %9s %10s %12s %14s\n' tool "wall (s)" "MiB/s" "vs curl" "peak RSS (MB)"
for name in curl threads async; do
  wall=$(cut -d' ' -f1 "$work/$name" | median)
  rss=$(cut -d' ' -f2 "$work/$name" | sort -n | tail -1)
  awk -v n="$name" -v w="$wall" -v c="$curl_wall" -v b="$BYTES" -v r="$rss" \
    'BEGIN { printf "%-18s %9.2f %10.0f %11.3fx %14.1f\n", n, w, b / 1048576 / w, c / w, r / 1024 }'
done
