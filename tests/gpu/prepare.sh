#!/usr/bin/env bash
# On a machine with flowc: writes the kernels of examples/moons.flow and of
# tests/unit/kernels/kernels.flow (guidance, condition dropout, rank-2 shape
# ops, adaptive step control) as portable objects and as PTX for sm_80 and
# sm_90 into tests/gpu/artifacts/ for run.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
FLOWC=${FLOWC:-build/bin/flowc}
mkdir -p tests/gpu/artifacts
$FLOWC --emit=obj --cpu=x86-64-v2 examples/moons.flow -o tests/gpu/artifacts/kernels.o
$FLOWC --emit=obj --cpu=x86-64-v2 tests/unit/kernels/kernels.flow -o tests/gpu/artifacts/all.o
for arch in sm_80 sm_90; do
  $FLOWC --emit=ptx --gpu-arch=$arch examples/moons.flow -o tests/gpu/artifacts/kernels.$arch.ptx
  $FLOWC --emit=ptx --gpu-arch=$arch tests/unit/kernels/kernels.flow -o tests/gpu/artifacts/all.$arch.ptx
done
