#!/usr/bin/env bash
# Load test for `keyward serve` on loopback (127.0.0.1 only).
#
#   benches/serve/load.sh            # build, generate a world, measure, print a summary
#
# 1. builds keyward in release and generates a world and request stream (`keyward gen`);
# 2. starts `keyward serve` on 127.0.0.1:$PORT;
# 3. single requests, closed loop (wrk): the most checks/s;
# 4. batches of 100 (wrk): the most checks/s;
# 5. single requests at a fixed rate of half the step-3 throughput (oha, corrected for
#    coordinated omission): latency percentiles under a realistic load.
# Needs wrk, oha, curl, python3 and awk, and installs nothing: it names what is missing and how to
# get it (see "tools" below), then exits 2. Every phase is bounded in time;
# the server is stopped on exit. Settings (environment): DURATION seconds per phase (10), KEYS
# (1000), PRINCIPALS (500), REQUESTS (10000), PORT (18181), CONNECTIONS for single requests (32),
# BATCH_CONNECTIONS (4), THREADS server worker threads (all cores), OUT (target/serve-bench),
# ALLOCATOR=jemalloc to run the server with Debian's libjemalloc preloaded (for comparison with
# the default glibc malloc; keyward itself sets no allocator).
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-10}
KEYS=${KEYS:-1000}
PRINCIPALS=${PRINCIPALS:-500}
REQUESTS=${REQUESTS:-10000}
PORT=${PORT:-18181}
CONNECTIONS=${CONNECTIONS:-32}
BATCH_CONNECTIONS=${BATCH_CONNECTIONS:-4}
OUT=${OUT:-target/serve-bench}
BASE="http://127.0.0.1:${PORT}"
mkdir -p "$OUT"

# --- tools -------------------------------------------------------------------------------------
export PATH="$HOME/.cargo/bin:$PATH"
missing=()
declare -A how=(
  [wrk]="the Debian package: apt-get install wrk"
  [oha]="crates.io: cargo install oha --locked (a few minutes)"
  [curl]="the Debian package: apt-get install curl"
  [python3]="the Debian package: apt-get install python3"
  [awk]="the Debian package: apt-get install gawk"
)
for tool in wrk oha curl python3 awk; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "load.sh needs tools that are not installed:" >&2
  for tool in "${missing[@]}"; do echo "  $tool: ${how[$tool]}" >&2; done
  exit 2
fi

# --- build and data ----------------------------------------------------------------------------
echo "== cargo build --release" >&2
cargo build --release --locked --quiet
KEYWARD=target/release/keyward
DATA="$OUT/data"
"$KEYWARD" gen --keys "$KEYS" --principals "$PRINCIPALS" --seed 7 --requests "$REQUESTS" --out "$DATA" 2>/dev/null
# Batches of 100 requests, one {"requests": [...]} document a line.
awk 'BEGIN { ORS = "" }
     { if (NR % 100 == 1) printf "{\"requests\":["; else printf ","; printf "%s", $0;
       if (NR % 100 == 0) print "]}\n" }' "$DATA/requests.jsonl" > "$DATA/batches.jsonl"

# --- server ------------------------------------------------------------------------------------
SERVER_ARGS=(serve --world "$DATA/world.json" --listen "127.0.0.1:${PORT}" --no-watch)
[[ -n "${THREADS:-}" ]] && SERVER_ARGS+=(--threads "$THREADS")
PRELOAD=""
if [[ "${ALLOCATOR:-}" == jemalloc ]]; then
  PRELOAD=$(ls /usr/lib/*/libjemalloc.so.2 2>/dev/null | head -1 || true)
  if [[ -z "$PRELOAD" ]]; then
    echo "ALLOCATOR=jemalloc needs Debian's libjemalloc2: apt-get install libjemalloc2" >&2
    exit 2
  fi
fi
LD_PRELOAD="$PRELOAD" "$KEYWARD" "${SERVER_ARGS[@]}" 2>"$OUT/server.log" &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -sf "$BASE/ready" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$OUT/server.log" >&2; exit 1; }
  sleep 0.1
done
curl -sf "$BASE/health" >/dev/null || { echo "server did not start" >&2; cat "$OUT/server.log" >&2; exit 1; }

# wrk_run BODIES URL CONNECTIONS SECONDS -> prints the RESULT line of bodies.lua
wrk_run() {
  BODIES="$1" wrk -t1 -c"$3" -d"$4s" --timeout 5s -s benches/serve/bodies.lua "$2" | grep '^RESULT'
}
field() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" <<<"$2"; }

echo "== warm-up" >&2
wrk_run "$DATA/requests.jsonl" "$BASE/v1/authorize" "$CONNECTIONS" 2 >/dev/null

echo "== single requests, closed loop, ${CONNECTIONS} connections, ${DURATION}s" >&2
LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg)
single=$(wrk_run "$DATA/requests.jsonl" "$BASE/v1/authorize" "$CONNECTIONS" "$DURATION")
single_rps=$(( $(field requests "$single") * 1000000 / $(field duration_us "$single") ))

echo "== batches of 100, closed loop, ${BATCH_CONNECTIONS} connections, ${DURATION}s" >&2
batch=$(wrk_run "$DATA/batches.jsonl" "$BASE/v1/authorize/batch" "$BATCH_CONNECTIONS" "$DURATION")
batch_rps=$(( $(field requests "$batch") * 1000000 / $(field duration_us "$batch") ))

rate=$(( single_rps / 2 ))
echo "== single requests at a fixed ${rate}/s (half the closed-loop rate), ${DURATION}s" >&2
curl -sf "$BASE/metrics" > "$OUT/metrics-before-fixed.txt"
oha -z "${DURATION}s" -q "$rate" -c "$CONNECTIONS" --latency-correction -m POST \
  -H 'content-type: application/json' -Z "$DATA/requests.jsonl" --no-tui --output-format json \
  "$BASE/v1/authorize" > "$OUT/oha-fixed-rate.json" 2>/dev/null
fixed=$(python3 - "$OUT/oha-fixed-rate.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["latencyPercentiles"]
codes = d.get("statusCodeDistribution", {})
# oha ends the run with the requests still in flight "aborted due to deadline": not failures.
errs = {k: n for k, n in d.get("errorDistribution", {}).items() if "aborted due to deadline" not in k}
bad = sum(n for c, n in codes.items() if c != "200") + sum(errs.values())
us = lambda s: round((s or 0) * 1e6)
print(f"rps={round(d['summary']['requestsPerSec'])} p50_us={us(p['p50'])} p90_us={us(p['p90'])} "
      f"p99_us={us(p['p99'])} p999_us={us(p['p99.9'])} errors={bad}")
EOF
)
curl -sf "$BASE/metrics" > "$OUT/metrics-after-fixed.txt"
# The server's own handling time (body read to answer built) over the fixed-rate phase, from the
# /metrics histogram: the upper bound of the bucket that holds each percentile.
server_side=$(python3 - "$OUT/metrics-before-fixed.txt" "$OUT/metrics-after-fixed.txt" <<'EOF'
import re, sys
def buckets(path):
    out = {}
    for line in open(path):
        m = re.match(r'keyward_request_duration_seconds_bucket\{route="authorize",le="([^"]+)"\} (\d+)', line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out
a, b = buckets(sys.argv[1]), buckets(sys.argv[2])
diff = sorted((float("inf") if le == "+Inf" else float(le), b[le] - a.get(le, 0)) for le in b)
total = diff[-1][1] if diff else 0
def pct(p):
    for le, n in diff:
        if total and n >= p * total:
            return "inf" if le == float("inf") else str(round(le * 1e6))
    return "0"
print(f"p50_us={pct(0.5)} p99_us={pct(0.99)} p999_us={pct(0.999)}")
EOF
)
LOAD_AFTER=$(cut -d' ' -f1 /proc/loadavg)
metrics_errors=$(curl -sf "$BASE/metrics" | awk '/^keyward_errors_total/ { n += $2 } END { print n + 0 }')

verdict() { if [[ "$1" -eq 1 ]]; then echo "meets"; else echo "MISSES"; fi; }
{
  echo "keyward serve load test: $(nproc) cores, loopback, client on the same machine"
  echo "allocator: ${ALLOCATOR:-glibc malloc}; server threads: ${THREADS:-one per core}"
  echo "world: $KEYS keys, $PRINCIPALS principals; $REQUESTS generated requests (seed 7); ${DURATION}s per phase"
  echo "load average (1 min) before/after: $LOAD_BEFORE / $LOAD_AFTER (other work on the machine competes)"
  echo
  printf '%-34s %12s  %s\n' "phase" "checks/s" "latency (µs)"
  printf '%-34s %12s  p50 %s  p90 %s  p99 %s  p99.9 %s   non-200 %s, socket errors %s\n' \
    "single, closed loop (c=$CONNECTIONS)" "$single_rps" "$(field p50_us "$single")" "$(field p90_us "$single")" \
    "$(field p99_us "$single")" "$(field p999_us "$single")" "$(field non2xx "$single")" "$(field socket_errors "$single")"
  printf '%-34s %12s  p50 %s  p90 %s  p99 %s  p99.9 %s (per batch)   non-200 %s, socket errors %s\n' \
    "batch of 100 (c=$BATCH_CONNECTIONS)" "$(( batch_rps * 100 ))" "$(field p50_us "$batch")" "$(field p90_us "$batch")" \
    "$(field p99_us "$batch")" "$(field p999_us "$batch")" "$(field non2xx "$batch")" "$(field socket_errors "$batch")"
  printf '%-34s %12s  p50 %s  p90 %s  p99 %s  p99.9 %s   errors %s\n' \
    "single, fixed rate ${rate}/s (oha)" "$(field rps "$fixed")" "$(field p50_us "$fixed")" "$(field p90_us "$fixed")" \
    "$(field p99_us "$fixed")" "$(field p999_us "$fixed")" "$(field errors "$fixed")"
  printf '%-34s %12s  p50 <= %s  p99 <= %s  p99.9 <= %s  (server-side, from /metrics buckets)\n' \
    "  of which inside keyward" "" "$(field p50_us "$server_side")" "$(field p99_us "$server_side")" \
    "$(field p999_us "$server_side")"
  echo "server-side error answers (keyward_errors_total): $metrics_errors"
  echo
  echo "targets: single >= 50000 checks/s: $(verdict $(( single_rps >= 50000 )));" \
       "p99 < 1000 µs at half rate: $(verdict $(( $(field p99_us "$fixed") < 1000 )));" \
       "batch >= 1000000 checks/s: $(verdict $(( batch_rps * 100 >= 1000000 )))"
} | tee "$OUT/load-results.txt"
