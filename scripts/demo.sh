#!/usr/bin/env bash
# README command 1: installs what is missing, builds flowc, then compiles
# examples/moons.flow, trains it on the CPU, samples 20000 points, writes
# demo/moons.png and demo/moons.npy and prints the sample quality.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
mkdir -p demo
cd demo
../build/bin/flowc build ../examples/moons.flow -o moons
./moons train
./moons sample -n 20000 -o moons.png -o moons.npy
python3 ../tests/e2e/quality.py moons.npy --label "demo/moons.npy"
echo "demo: wrote $(pwd)/moons.png"
