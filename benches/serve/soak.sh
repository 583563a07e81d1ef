#!/usr/bin/env bash
# Reload soak for `keyward serve` on loopback: a new world every 100 ms for 60 s under load, after
# a 10 s steady phase; every answer is checked. Prints throughput, failed and wrong answers, and
# latency percentiles for the steady and the reload phase; exits non-zero on any failed or wrong
# answer, a failed reload, or a reload-phase p99 over twice the steady p99.
#
#   benches/serve/soak.sh
#
# Settings (environment, see tests/serve_soak.rs): SOAK_SECONDS (60), SOAK_STEADY_SECONDS (10),
# SOAK_RELOAD_MS (100), SOAK_CLIENTS (4), SOAK_KEYS (300), SOAK_PRINCIPALS (150),
# SOAK_RELOAD_NICENESS (10); OUT
# (target/serve-bench) receives soak-results.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-target/serve-bench}
mkdir -p "$OUT"
echo "== cargo test --release --test serve_soak -- --ignored (about $(( ${SOAK_SECONDS:-60} + ${SOAK_STEADY_SECONDS:-10} )) s)" >&2
echo "load average (1 min) before: $(cut -d' ' -f1 /proc/loadavg)" | tee "$OUT/soak-results.txt"
set +e
cargo test --release --locked --quiet --test serve_soak -- --ignored --nocapture 2>&1 \
  | grep -E '^soak |test result|panicked|assertion' | tee -a "$OUT/soak-results.txt"
status=${PIPESTATUS[0]}
set -e
echo "load average (1 min) after: $(cut -d' ' -f1 /proc/loadavg)" | tee -a "$OUT/soak-results.txt"
exit "$status"
