# lit configuration for flowc. Features:
#   ptxas  - ptxas is installed (PTX is checked without a GPU)
#   cuda   - a CUDA device is present (GPU integration tests)
#   runtime - libflowrt was built, so `flowc build` can link programs
import os
import shutil
import subprocess

import lit.formats

config.name = "flowc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".flow", ".mlir", ".test"]
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.flowc_obj_root, "tests", "lit")

bin_dir = os.path.join(config.flowc_obj_root, "bin")
flowc = os.path.join(bin_dir, "flowc")
flowc_opt = os.path.join(bin_dir, "flowc-opt")
config.substitutions.append(("%flowc_obj_root", config.flowc_obj_root))
config.substitutions.append(("%flowc-opt", flowc_opt))
config.substitutions.append(("%flowc", flowc))
config.substitutions.append(("%examples", os.path.join(config.flowc_src_root, "examples")))
config.substitutions.append(("%python", shutil.which("python3") or "python3"))
config.substitutions.append(("%e2e", os.path.join(config.flowc_src_root, "tests", "e2e")))
config.environment["PATH"] = os.pathsep.join(
    [config.llvm_tools_dir, config.cuda_bin_dir, config.environment.get("PATH", os.environ["PATH"])])
config.environment["CUDA_HOME"] = "/usr/local/cuda"
# lit runs one test per core; LibTorch's OpenMP threads spin while they
# wait, so two programs with a thread per core each slow each other down
# tenfold (e2e/digits.test: 66 s alone, 704 s beside e2e/tokenizer.test).
# One thread per test keeps the cores busy without that.
config.environment["OMP_NUM_THREADS"] = "1"
# `eval` trains its image classifier once for the whole run of the suite
# (about 16 s for the digits' on one thread), not once per test; emptied at
# each start so that a changed classifier is never read stale.
classifiers = os.path.join(config.test_exec_root, "classifiers")
shutil.rmtree(classifiers, ignore_errors=True)
config.environment["FLOWRT_CLASSIFIER_DIR"] = classifiers
for var in ["HOME", "TMPDIR"]:
    if var in os.environ:
        config.environment[var] = os.environ[var]

if os.path.exists(os.path.join(config.cuda_bin_dir, "ptxas")):
    config.available_features.add("ptxas")
if shutil.which("nvidia-smi"):
    try:
        if subprocess.run(["nvidia-smi", "-L"], capture_output=True, timeout=20).returncode == 0:
            config.available_features.add("cuda")
    except Exception:
        pass
if shutil.which("clang++-14"): config.available_features.add("clang-fuzzer")
runtime_lib = os.path.join(config.flowc_obj_root, "runtime", "libflowrt.a")
if os.path.exists(runtime_lib):
    config.available_features.add("runtime")
