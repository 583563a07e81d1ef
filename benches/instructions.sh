#!/usr/bin/env bash
# Instructions per check, counted by callgrind: unlike time, the count does not move with machine
# load, so CI can gate on it. Compares with benches/instructions-baseline.txt and fails when a
# check costs more than TOLERANCE_PCT percent (default 15) more instructions.
#   benches/instructions.sh            check against the baseline
#   benches/instructions.sh --update   write the current count as the new baseline
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is required (apt-get install valgrind)"; exit 2; }
checks=20000
tolerance=${TOLERANCE_PCT:-15}
cargo build --release --locked --quiet
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
./target/release/keyward gen --keys 1000 --principals 500 --seed 1 --requests 5000 --out "$dir" 2>/dev/null
count() {
  valgrind --tool=callgrind --callgrind-out-file="$dir/cg.$1" ./target/release/keyward bench \
    --world "$dir/world.json" --requests "$dir/requests.jsonl" --fixed-checks "$1" >/dev/null 2>"$dir/log.$1"
  grep -o 'Collected : [0-9,]*' "$dir/log.$1" | tr -dc 0-9
}
# The same run with no checks counts loading and compiling; the difference is the checks alone.
per_check=$(( ($(count $checks) - $(count 0)) / checks ))
baseline_file=benches/instructions-baseline.txt
if [ "${1:-}" = "--update" ]; then
  echo "$per_check" > "$baseline_file"
  echo "instructions per check: $per_check (baseline updated)"
  exit 0
fi
baseline=$(cat "$baseline_file")
limit=$(( baseline * (100 + tolerance) / 100 ))
echo "instructions per check: $per_check (baseline $baseline, limit $limit)"
if [ "$per_check" -gt "$limit" ]; then
  echo "regression: a check costs more than ${tolerance}% more instructions than the baseline"
  exit 1
fi
