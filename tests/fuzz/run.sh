#!/usr/bin/env bash
# Runs a fuzzer for SECONDS (default 30): tests/fuzz/run.sh [SECONDS]
# FUZZER=pipeline_fuzzer picks the one that goes on to MLIRGen and the
# passes (default frontend_fuzzer; see build.sh).
#
# Builds it first (build.sh), copies the seed corpus (tests/fuzz/corpus plus
# the examples, the stdlib and the diagnostics tests) into a working corpus
# under the build folder, and runs one job. Exits non-zero on a crash, a leak,
# a timeout (5 s per input) or an out-of-memory; the reproducer is written to
# the build folder (crash-*, timeout-*, oom-*).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
seconds="${1:-30}"
out="${FUZZ_OUT:-$root/build-fuzz}"
"$here/build.sh" "$out" >/dev/null
work="$out/corpus-${FUZZER:-frontend_fuzzer}"
mkdir -p "$work"
cp -n "$here"/corpus/* "$work"/ 2>/dev/null || true
i=0
for f in "$root"/examples/*.flow "$root"/stdlib/std/*.flow "$root"/tests/lit/diagnostics/*.flow; do
  [[ -f "$f" ]] && cp -n "$f" "$work/seed-$(basename "$f")" 2>/dev/null || true
done
cd "$out"
exec "./${FUZZER:-frontend_fuzzer}" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
  -max_len=8192 -dict="$here/flow.dict" -print_final_stats=1 "$work"
