#!/usr/bin/env bash
# On a GPU host, from the repository root, after tests/gpu/prepare.sh ran on a
# machine with flowc: builds the checker and compares PTX with CPU results.
set -euo pipefail
cd "$(dirname "$0")"
PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$PREFIX" \
  -DFLOWC_KERNELS_OBJECT="$PWD/artifacts/kernels.o;$PWD/artifacts/all.o" > build.log 2>&1 || { tail -30 build.log; exit 1; }
cmake --build build -j 16 >> build.log 2>&1 || { tail -30 build.log; exit 1; }
for arch in sm_80 sm_90; do
  echo "== PTX for $arch"
  ./build/gpu-kernel-check artifacts/kernels.$arch.ptx artifacts/all.$arch.ptx
done
