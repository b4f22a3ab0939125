#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build and test flowc, then
# configures and builds it in build/. Idempotent: a second run only rebuilds.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS="libmlir-22-dev mlir-22-tools llvm-22-dev llvm-22-tools antlr4 libantlr4-runtime-dev
      libfmt-dev libgtest-dev ninja-build ccache cmake g++ python3-pip
      clang-14 libclang-rt-14-dev zlib1g-dev dataset-fashion-mnist
      libcli11-dev nlohmann-json3-dev wamerican"
missing=""
for p in $DEBS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  echo "setup: installing Debian packages:$missing"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
fi

# The 8x8 digits (images.digits) are scikit-learn's digits.csv.gz; take the
# file from Debian's python3-sklearn package without installing it (and its
# scipy) into the place the runtime looks (runtime/src/ImageData.cpp).
DIGITS=/usr/share/datasets/digits/digits.csv.gz
if [ ! -f "$DIGITS" ]; then
  echo "setup: fetching digits.csv.gz from Debian's python3-sklearn"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  tmp=$(mktemp -d) && chmod 755 "$tmp"
  (cd "$tmp" && { apt-get download -q python3-sklearn >/dev/null 2>&1 ||
      { $SUDO apt-get update -q && apt-get download -q python3-sklearn >/dev/null; }; } &&
    dpkg-deb --fsys-tarfile python3-sklearn_*.deb |
      tar -x ./usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz)
  $SUDO mkdir -p "$(dirname "$DIGITS")"
  $SUDO cp "$tmp/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz" "$DIGITS"
  rm -rf "$tmp"
fi

# LibTorch comes from the torch wheel; pin the GPU hosts' minor version.
PY=${PYTHON:-python3}
if ! $PY -c 'import torch, numpy, lit, PIL, scipy' >/dev/null 2>&1; then
  echo "setup: installing torch, numpy, lit, pillow, scipy with pip"
  $PY -m pip install -q "torch==2.11.0" numpy lit pillow scipy ||
    $PY -m pip install -q --break-system-packages "torch==2.11.0" numpy lit pillow scipy
fi
# torchdiffeq is one of the bench's peers (tests/bench): without it that
# row reports so, nothing else needs it.
if ! $PY -c 'import torchdiffeq' >/dev/null 2>&1; then
  $PY -m pip install -q --no-deps torchdiffeq ||
    $PY -m pip install -q --no-deps --break-system-packages torchdiffeq ||
    echo "setup: could not install torchdiffeq (the bench reports its row as missing)"
fi
TORCH_PREFIX=$($PY -c 'import torch; print(torch.utils.cmake_prefix_path)')

if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" -DPython3_EXECUTABLE="$(command -v $PY)"
fi
cmake --build build -j "${FLOWC_JOBS:-2}"
