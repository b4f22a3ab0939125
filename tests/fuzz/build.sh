#!/usr/bin/env bash
# Builds the fuzzers: tests/fuzz/build.sh [OUT_DIR]
#
# Compiles lang/lib/*.cpp and lang/lib/Sema/*.cpp, the ANTLR-generated lexer
# and parser (regenerated here from lang/Flow.g4 with `antlr4`) and
# frontend_fuzzer.cpp with clang and
# -fsanitize=fuzzer,address,undefined, linked against the system ANTLR4 C++
# runtime. Needs clang++ (14 or later; Debian: apt-get install clang-14
# libclang-rt-14-dev). OUT_DIR defaults to build-fuzz/ in the repository root;
# the fuzzer is OUT_DIR/frontend_fuzzer.
# Where the CMake build (FLOWC_BUILD_DIR, default build/) has built flowc,
# also OUT_DIR/pipeline_fuzzer: the same front end objects, then
# pipeline_fuzzer.cpp linked with that build's libFlowCompiler.a (MLIRGen and
# the passes, compiled by GCC, not instrumented) and MLIR/LLVM 22.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$root/build-fuzz}"
CXX="${CXX:-}"
if [[ -z "$CXX" ]]; then
  for c in clang++-14 clang++; do
    if command -v "$c" >/dev/null; then CXX="$c"; break; fi
  done
fi
[[ -n "$CXX" ]] || { echo "build.sh: clang++ not found" >&2; exit 2; }
jobs="${JOBS:-1}"
mkdir -p "$out/grammar" "$out/obj"

# The generated parser: regenerate when the grammar is newer.
if [[ ! -f "$out/grammar/FlowParser.cpp" || "$root/lang/Flow.g4" -nt "$out/grammar/FlowParser.cpp" ]]; then
  antlr4 -Dlanguage=Cpp -no-listener -no-visitor -package flowc::grammar \
    -o "$out/grammar" -Xexact-output-dir "$root/lang/Flow.g4"
fi

# clang rejects one inline constructor in the ANTLR 4.9 runtime headers
# (InterpreterData() {} default-constructs a Vocabulary whose default
# constructor is deleted); GCC accepts it. Use a patched copy of the headers.
antlr_src=/usr/include/antlr4-runtime
antlr_inc="$out/antlr4-runtime"
if [[ ! -f "$antlr_inc/antlr4-runtime.h" ]]; then
  rm -rf "$antlr_inc"
  cp -r "$antlr_src" "$antlr_inc"
  sed -i 's/InterpreterData() {};/InterpreterData() = delete;/' \
    "$antlr_inc/misc/InterpreterDataReader.h"
fi
flags=(-std=c++17 -g -O1 -fno-omit-frame-pointer
       -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
       -I"$root/lang/include" -I"$root/lang/lib" -I"$root/runtime/include" -I"$out/grammar" -isystem "$antlr_inc"
       -Wno-attributes -DFLOWC_STDLIB_DIR="\"$root/stdlib\"")
sources=("$root"/lang/lib/*.cpp "$root"/lang/lib/Sema/*.cpp "$out/grammar/FlowLexer.cpp" "$out/grammar/FlowParser.cpp"
         "$here/frontend_fuzzer.cpp")
# An object is rebuilt when its source or any front-end header is newer.
headers=("$root"/lang/include/flowc/Lang/*.h "$root"/lang/lib/*.h "$root"/lang/lib/Sema/*.h)
newest_header="${headers[0]}"
for h in "${headers[@]}"; do [[ "$h" -nt "$newest_header" ]] && newest_header="$h"; done
objs=()
pids=()
for src in "${sources[@]}"; do
  obj="$out/obj/$(basename "${src%.cpp}").o"
  objs+=("$obj")
  if [[ ! -f "$obj" || "$src" -nt "$obj" || "$newest_header" -nt "$obj" ]]; then
    "$CXX" "${flags[@]}" -c "$src" -o "$obj" &
    pids+=($!)
    if (( ${#pids[@]} >= jobs )); then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
  fi
done
for p in "${pids[@]}"; do wait "$p"; done
"$CXX" -fsanitize=fuzzer,address,undefined "${objs[@]}" -lantlr4-runtime -o "$out/frontend_fuzzer"
echo "built $out/frontend_fuzzer"

build="${FLOWC_BUILD_DIR:-$root/build}"
compiler_lib="$build/compiler/lib/libFlowCompiler.a"
[[ -f "$compiler_lib" ]] || { echo "build.sh: no $compiler_lib, pipeline_fuzzer skipped"; exit 0; }
llvm=/usr/lib/llvm-22
front=("${objs[@]}")
unset 'front[${#front[@]}-1]' # all but frontend_fuzzer.o
pobj="$out/obj/pipeline_fuzzer.o"
if [[ ! -f "$pobj" || "$here/pipeline_fuzzer.cpp" -nt "$pobj" || "$compiler_lib" -nt "$pobj" ]]; then
  # NDEBUG as in the CMake build (LLVM headers' layout depends on it); no
  # vptr check, as MLIR's classes have no RTTI.
  "$CXX" "${flags[@]}" -DNDEBUG -fno-sanitize=vptr -I"$root/compiler/include" \
    -I"$build/compiler/include" -isystem "$llvm/include" \
    -c "$here/pipeline_fuzzer.cpp" -o "$pobj"
fi
"$CXX" -fsanitize=fuzzer,address,undefined "$pobj" "${front[@]}" "$compiler_lib" \
  -L"$llvm/lib" -Wl,-rpath,"$llvm/lib" -lMLIR -lLLVM -lantlr4-runtime -o "$out/pipeline_fuzzer"
echo "built $out/pipeline_fuzzer"
