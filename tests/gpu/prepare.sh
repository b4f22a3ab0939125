#!/usr/bin/env bash
# On a machine with flowc: writes the moons kernels as a portable object and
# as PTX for sm_80 and sm_90 into tests/gpu/artifacts/ for run.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
FLOWC=${FLOWC:-build/bin/flowc}
mkdir -p tests/gpu/artifacts
$FLOWC --emit=obj --cpu=x86-64-v2 examples/moons.flow -o tests/gpu/artifacts/kernels.o
for arch in sm_80 sm_90; do
  $FLOWC --emit=ptx --gpu-arch=$arch examples/moons.flow -o tests/gpu/artifacts/kernels.$arch.ptx
done
