#!/usr/bin/env bash
# The sidecar's load test and reload soak, one after the other (about 2 minutes plus the build):
#
#   benches/serve/run.sh
#
# Results are printed and kept in target/serve-bench/{load,soak}-results.txt. See load.sh and
# soak.sh for what each measures and the settings they take. Nothing is installed: load.sh needs
# wrk and oha (plus curl, python3, awk) and, when one is missing, says how to get it and exits 2.
set -euo pipefail
cd "$(dirname "$0")"
./load.sh
echo
./soak.sh
