#!/usr/bin/env bash
# Threads vs async under high concurrency: N requests of L ms at pool P (default 2000 × 1 s at
# pool 1000, ideal 2 s), each engine in its own process against one `poolfetch serve`.
# Reports wall/ideal, peak RSS (from /usr/bin/time) and the most OS threads seen (/proc).
# Usage: scripts/high-concurrency.sh [N] [L_MS] [P]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}; L=${2:-1000}; P=${3:-1000}
cargo build --release --quiet
bin=${POOLFETCH_BIN:-target/release/poolfetch}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

out=$(mktemp -d)
"$bin" serve --addr 127.0.0.1:0 > "$out/serve" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$out"' EXIT
for _ in $(seq 50); do grep -q listening "$out/serve" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's/^listening on //p' "$out/serve")
ideal=$(( (N + P - 1) / P * L ))
echo "N=$N requests of ${L} ms at pool $P (ideal ${ideal} ms), server $base"
printf '%-8s %10s %11s %9s %14s %12s %6s\n' engine "wall (s)" wall/ideal "CPU (s)" "peak RSS (MB)" "max threads" ok
for engine in threads async; do
  /usr/bin/time -f "%e %M %U %S" -o "$out/time" "$bin" fetch -q --engine "$engine" --pool "$P" --body none \
    --timeout 60s --template "$base/delay/$L?n={}" --range "1..$N" -o "$out/records" &
  pid=$!
  max_threads=0
  while kill -0 "$pid" 2>/dev/null; do
    child=$(pgrep -P "$pid" poolfetch || true)
    for p in $child; do
      t=$(awk '/^Threads:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
      [ "${t:-0}" -gt "$max_threads" ] && max_threads=$t
    done
    sleep 0.05
  done
  wait "$pid" || true
  read -r wall rss_kb user sys < "$out/time"
  ok=$(grep -c '"ok":true' "$out/records" || true)
  awk -v e="$engine" -v w="$wall" -v i="$ideal" -v r="$rss_kb" -v t="$max_threads" -v ok="$ok" \
    -v c="$(echo "$user + $sys" | bc)" \
    'BEGIN { printf "%-8s %10.3f %11.3f %9.2f %14.1f %12d %6d\n", e, w, w * 1000 / i, c, r / 1024, t, ok }'
done
