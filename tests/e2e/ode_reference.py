#!/usr/bin/env python3
"""The ODE reference cases of the numerics issue, run through generated
programs (closed-form fields, so no training): each case samples from fixed
start points (`--from`) with a chosen solver and compares with the exact
solution.

    ode_reference.py FLOWC INPUTS_DIR WORK_DIR

  growth  dx/dt = x, x0 = 1, Euler, 10 steps: 1.1^10 (abs 1e-6)
  cubic   dx/dt = 3 t^2, x0 = [1, 0] -> [2, 1] (1e-2) with euler, midpoint,
          heun (1000 steps) and adaptive dopri5
  decay   dx/dt = -x, x0 = 1: the log-log slope of |x(1) - 1/e| against the
          step is 1 (euler), 2 (midpoint, heun), 4 (rk4), each +-0.15; and
          adaptive dopri5's error shrinks as its tolerance does, and
          --max-step 0.05 forces at least 20 steps
Prints every measured number; exits non-zero on the first failure.
"""
import os
import re
import subprocess
import sys

import numpy as np

flowc, inputs, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
failures = []


def build(name):
    exe = os.path.join(work, name)
    subprocess.run([flowc, "build", os.path.join(inputs, name + ".flow"), "-o", exe],
                   check=True, stdout=subprocess.DEVNULL)
    return exe


def solve(exe, start, *options):
    src = os.path.join(work, "start.npy")
    out = os.path.join(work, "out.npy")
    np.save(src, np.asarray(start, dtype=np.float32))
    run = subprocess.run([exe, "sample", "--threads", "1", "--from", src, "-o", out,
                          *options], check=True, capture_output=True, text=True)
    nfe = int(re.search(r"(\d+) function evaluations", run.stdout).group(1))
    return np.load(out).astype(np.float64), nfe


def check(what, ok, detail):
    print(f"{'ok  ' if ok else 'FAIL'} {what}: {detail}")
    if not ok:
        failures.append(what)


growth = build("growth")
x, nfe = solve(growth, [[1.0, 1.0]])
err = np.abs(x - 1.1 ** 10).max()
check("euler dx/dt = x, h = 0.1", err <= 1e-6 and nfe == 10,
      f"x(1) = {x[0, 0]:.9f}, 1.1^10 = {1.1 ** 10:.9f}, error {err:.2e}, {nfe} evaluations")

cubic = build("cubic")
for solver in ["euler", "midpoint", "heun"]:
    x, nfe = solve(cubic, [[1.0, 0.0]], "--solver", solver, "--steps", "1000")
    err = np.abs(x - [[2.0, 1.0]]).max()
    check(f"{solver} dx/dt = 3t^2, h = 1e-3", err <= 1e-2, f"x(1) = {x[0]}, error {err:.2e}")
x, nfe = solve(cubic, [[1.0, 0.0]])
err = np.abs(x - [[2.0, 1.0]]).max()
check("dopri5 (adaptive) dx/dt = 3t^2", err <= 1e-2, f"x(1) = {x[0]}, error {err:.2e}, {nfe} evaluations")

decay = build("decay")
orders = {"euler": (1, [16, 32, 64, 128]), "midpoint": (2, [16, 32, 64, 128]),
          "heun": (2, [16, 32, 64, 128]),
          # rk4 in float32 reaches rounding (~1e-8) beyond 12 steps.
          "rk4": (4, [4, 6, 8, 12])}
for solver, (order, steps) in orders.items():
    errors = []
    for n in steps:
        x, _ = solve(decay, [[1.0, 1.0]], "--solver", solver, "--steps", str(n))
        errors.append(abs(x[0, 0] - np.exp(-1.0)))
    slope = np.polyfit(np.log(1.0 / np.array(steps)), np.log(errors), 1)[0]
    check(f"{solver} order on dx/dt = -x", abs(slope - order) <= 0.15,
          f"slope {slope:.3f} (expected {order}); errors {', '.join(f'{e:.2e}' for e in errors)}")
errors, evaluations = [], []
for tol in ["1e-3", "1e-5", "1e-7"]:
    x, nfe = solve(decay, [[1.0, 1.0]], "--solver", "dopri5", "--rtol", tol, "--atol", tol)
    errors.append(abs(x[0, 0] - np.exp(-1.0)))
    evaluations.append(nfe)
check("dopri5 error shrinks with the tolerance",
      errors[0] > errors[1] > errors[2] or errors[2] < 1e-6 < errors[0],
      f"tol 1e-3, 1e-5, 1e-7: errors {', '.join(f'{e:.2e}' for e in errors)}; "
      f"evaluations {evaluations}")

# --max-step bounds every step: dx/dt = -x is smooth enough for one dopri5
# step, so with steps of at most 0.05 the batch needs at least 20 steps.
x, nfe = solve(decay, [[1.0, 1.0]], "--solver", "dopri5", "--max-step", "0.05")
check("dopri5 --max-step 0.05", nfe >= 20 * 7 and abs(x[0, 0] - np.exp(-1.0)) < 1e-6,
      f"{nfe} evaluations (>= {20 * 7}), error {abs(x[0, 0] - np.exp(-1.0)):.2e}")

sys.exit(1 if failures else 0)
