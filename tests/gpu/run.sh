#!/usr/bin/env bash
# On a GPU host, from the repository root, after tests/gpu/prepare.sh ran on
# a machine with flowc and tests/gpu/artifacts was carried here. Three checks,
# each printing its numbers:
#   1. every kind of generated kernel, PTX vs the CPU object code (the checker
#      launches through the CUDA driver on LibTorch's context);
#   2. examples/moons.flow sampled on the GPU by the runtime itself (--device
#      cuda: the whole-trajectory kernel, and the per-step path with
#      LibTorch on the GPU) against the CPU, same checkpoint and seed; then
#      trained on the GPU (the step captured as a CUDA graph, against the
#      step launched op by op, and under bf16 autocast) and scored
#      (sliced-W2 bar 0.06, as the e2e test);
#   3. the benchmark rows of issue 5 (tests/bench/run --device cuda).
set -euo pipefail
cd "$(dirname "$0")"
A=$PWD/artifacts
ROOT=$(cd ../.. && pwd)
PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
J=$(nproc)
echo "artifacts of revision $(cat $A/REVISION 2>/dev/null || echo unknown)"

echo "== 1. kernels: PTX vs CPU"
# The runtime's header-only libraries (CLI11, nlohmann/json) come with the
# projects flowc wrote: a GPU host has no Debian packages for them.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$PREFIX" \
  -DFLOWRT_THIRD_PARTY_DIR="$A/moons/third_party" \
  -DFLOWC_KERNELS_OBJECT="$A/kernels.o;$A/all.o" > build.log 2>&1 || { tail -30 build.log; exit 1; }
cmake --build build -j $J >> build.log 2>&1 || { tail -30 build.log; exit 1; }
for arch in sm_80 sm_90; do
  echo "-- PTX for $arch"
  ./build/gpu-kernel-check $A/kernels.$arch.ptx $A/all.$arch.ptx
done

echo "== 2. moons sampled by the runtime on the GPU"
cmake -S $A/moons -B $A/moons/build -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$PREFIX" -DFLOWRT_SOURCE_DIR=$ROOT/runtime > moons.log 2>&1 &&
  cmake --build $A/moons/build -j $J >> moons.log 2>&1 || { tail -30 moons.log; exit 1; }
M=$A/moons/build/moons
W=$(mktemp -d)
$M train --steps 300 --quiet --out-dir $W/run
for solver in "euler --steps 100" "rk4 --steps 8"; do
  $M sample --out-dir $W/run -n 20000 --solver $solver -o $W/cpu.npy | head -1
  $M sample --out-dir $W/run -n 20000 --solver $solver --device cuda -o $W/gpu.npy | head -1
  $M sample --out-dir $W/run -n 20000 --solver $solver --device cuda --per-step -o $W/gpu_step.npy | head -1
  python3 $ROOT/tests/e2e/same_points.py $W/gpu.npy $W/cpu.npy --max-abs 1e-4 --label "GPU fused vs CPU ($solver)"
  python3 $ROOT/tests/e2e/same_points.py $W/gpu_step.npy $W/cpu.npy --max-abs 1e-4 --label "GPU per-step vs CPU ($solver)"
done
$M sample --out-dir $W/run -n 2000 --solver dopri5 --device cuda | head -1
echo "-- training on the GPU (PTX path, loss, Adam and EMA kernels, LibTorch network;"
echo "   the step captured as a CUDA graph, then launched op by op, then bf16 autocast)"
$M train --steps 3000 --device cuda --out-dir $W/gpu_run | tail -2
$M train --steps 3000 --device cuda --no-cuda-graph --out-dir $W/gpu_eager | tail -1
$M train --steps 3000 --device cuda --autocast bf16 --out-dir $W/gpu_bf16 | tail -1
$M sample --out-dir $W/gpu_run -n 20000 -o $W/g.npy | tail -1
$M sample --out-dir $W/gpu_eager -n 20000 -o $W/ge.npy | tail -1
$M sample --out-dir $W/gpu_bf16 -n 20000 -o $W/gb.npy | tail -1
python3 $ROOT/tests/e2e/quality.py $W/g.npy --max 0.06 --label "trained on the GPU (CUDA graph)"
python3 $ROOT/tests/e2e/same_points.py $W/g.npy $W/ge.npy --max-abs 1e-2 --label "CUDA graph vs eager steps"
python3 $ROOT/tests/e2e/quality.py $W/gb.npy --max 0.08 --label "trained on the GPU (bf16 autocast)"

echo "== 3. benchmarks"
if ! python3 -c 'import torchdiffeq' 2>/dev/null && ls $A/wheels/torchdiffeq-*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-deps --target $A/pylib $A/wheels/torchdiffeq-*.whl
  export PYTHONPATH=$A/pylib${PYTHONPATH:+:$PYTHONPATH}
fi
python3 $ROOT/tests/bench/run --device cuda --projects $A/bench
