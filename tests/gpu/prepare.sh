#!/usr/bin/env bash
# On a machine with flowc: writes into tests/gpu/artifacts/ everything that
# tests/gpu/run.sh needs on a GPU host (which has LibTorch and CUDA, no MLIR):
#   - the kernels of examples/moons.flow and of tests/unit/kernels/kernels.flow
#     (guidance, condition dropout, rank-2 shape ops, adaptive step control,
#     whole-trajectory kernels) as portable objects and as PTX for sm_80, sm_90;
#   - examples/moons.flow as a CMake project (sampling on the GPU);
#   - the benchmark programs (tests/bench/run --emit-projects).
# Then carry tests/gpu/artifacts to the GPU host and run tests/gpu/run.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
FLOWC=${FLOWC:-build/bin/flowc}
A=tests/gpu/artifacts
rm -rf $A && mkdir -p $A
$FLOWC --emit=obj --cpu=x86-64-v2 examples/moons.flow -o $A/kernels.o
$FLOWC --emit=obj --cpu=x86-64-v2 tests/unit/kernels/kernels.flow -o $A/all.o
for arch in sm_80 sm_90; do
  $FLOWC --emit=ptx --gpu-arch=$arch examples/moons.flow -o $A/kernels.$arch.ptx
  $FLOWC --emit=ptx --gpu-arch=$arch tests/unit/kernels/kernels.flow -o $A/all.$arch.ptx
done
$FLOWC build examples/moons.flow --emit-project $A/moons
tests/bench/run --flowc "$FLOWC" --emit-projects $A/bench
# torchdiffeq (a bench peer, pure Python) for a GPU host without network.
python3 -m pip download -q --no-deps torchdiffeq -d $A/wheels ||
  echo "prepare: no torchdiffeq wheel (its bench row will say so)"
# Artifacts belong to one revision: run.sh prints it (regenerate after any
# change to the compiler, the runtime's ABI or the specs).
git rev-parse HEAD > $A/REVISION
du -sh $A
