#!/usr/bin/env bash
# README command 2: installs what is missing, builds everything, runs every
# test (GoogleTest suites and lit: stages, passes, diagnostics, end to end).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir build --output-on-failure -j "${FLOWC_JOBS:-2}"
