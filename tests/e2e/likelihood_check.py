#!/usr/bin/env python3
"""Likelihood reference cases of the numerics issue, on generated programs
with closed-form fields (no training):

    likelihood_check.py FLOWC EXAMPLES_DIR INPUTS_DIR WORK_DIR

  gaussian  examples/gaussian_closed_form.flow: the CondOT marginal field
            from N(0, I) to N(2, 0.5^2 I); the exact likelihood of points
            drawn from N(2, 0.5^2 I) equals the Gaussian log-density (1e-3)
  linear    Inputs/linear.flow, v = A x: the exact likelihood equals
            log N(exp(-A) x; 0, I) - tr A (1e-3); Hutchinson's estimate
            differs from it by tr A - e^T A e per point, whose mean over
            4000 points must be 0 within 3 standard errors (unbiased)
  no data   Inputs/gaussian_no_data.flow, the same Gaussian field in 3-D with
            no data (x0 ~ normal(shape: [3])): `sample --from` maps x0 to
            2 + 0.5 x0 (1e-3), `likelihood -i` equals the Gaussian
            log-density (1e-3), and files of the wrong shape, 0-d or
            empty arrays are refused with a message naming the file
Prints every measured number; exits non-zero on a failure.
"""
import os
import subprocess
import sys

import numpy as np

flowc, examples, inputs, work = sys.argv[1:5]
os.makedirs(work, exist_ok=True)
failures = []


def build(spec, name):
    exe = os.path.join(work, name)
    subprocess.run([flowc, "build", spec, "-o", exe], check=True, stdout=subprocess.DEVNULL)
    return exe


def likelihood(exe, points, *options):
    src, out = os.path.join(work, "points.npy"), os.path.join(work, "logp.npy")
    np.save(src, points.astype(np.float32))
    run = subprocess.run([exe, "likelihood", "--threads", "1", "-i", src, "-o", out, *options],
                         check=True, capture_output=True, text=True)
    print("   ", run.stdout.splitlines()[0])
    return np.load(out).astype(np.float64)


def log_normal(x, mean, std):
    z = (x - mean) / std
    return (-0.5 * z ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi)).sum(1)


def check(what, ok, detail):
    print(f"{'ok  ' if ok else 'FAIL'} {what}: {detail}")
    if not ok:
        failures.append(what)


rng = np.random.default_rng(7)
gauss = build(os.path.join(examples, "gaussian_closed_form.flow"), "gauss")
x = 2 + 0.5 * rng.standard_normal((2000, 2))
logp = likelihood(gauss, x, "--exact", "--solver", "rk4", "--steps", "64")
err = np.abs(logp - log_normal(x, 2.0, 0.5)).max()
check("Gaussian exact likelihood = log N(x; 2, 0.5^2 I)", err <= 1e-3,
      f"max error {err:.2e} over {len(x)} points (mean log p {logp.mean():.4f})")

A = np.array([[0.5, 1.0], [-0.3, 0.2]])
expm = np.eye(2)
term = np.eye(2)
for k in range(1, 30):  # exp(-A) by its series
    term = term @ (-A) / k
    expm = expm + term
linear = build(os.path.join(inputs, "linear.flow"), "linear")
x = rng.standard_normal((4000, 2))
exact = likelihood(linear, x, "--exact", "--solver", "rk4", "--steps", "32")
want = log_normal(x @ expm.T, 0.0, 1.0) - np.trace(A)
err = np.abs(exact - want).max()
check("v = Ax exact likelihood = log N(exp(-A) x) - tr A", err <= 1e-3, f"max error {err:.2e}")
hutch = likelihood(linear, x, "--hutchinson", "--seed", "3", "--solver", "rk4", "--steps", "32")
diff = hutch - exact  # = tr A - e^T A e per point
se = diff.std(ddof=1) / np.sqrt(len(diff))
check("Hutchinson unbiased for v = Ax", abs(diff.mean()) <= 3 * se and diff.std() > 0,
      f"mean(hutchinson - exact) = {diff.mean():.4f}, 3 SE = {3 * se:.4f}, "
      f"so the mean divergence estimate is tr A = 0.7 within 3 SE")
nodata = build(os.path.join(inputs, "gaussian_no_data.flow"), "nodata")
x0 = rng.standard_normal((500, 3))
start, out = os.path.join(work, "x0.npy"), os.path.join(work, "x1.npy")
np.save(start, x0.astype(np.float32))
subprocess.run([nodata, "sample", "--threads", "1", "--from", start, "-o", out], check=True,
               capture_output=True)
err = np.abs(np.load(out) - (2 + 0.5 * x0)).max()
check("no data: sample --from maps x0 to 2 + 0.5 x0", err <= 1e-3, f"max error {err:.2e}")
x = 2 + 0.5 * rng.standard_normal((1000, 3))
logp = likelihood(nodata, x, "--exact", "--solver", "rk4", "--steps", "64")
err = np.abs(logp - log_normal(x, 2.0, 0.5)).max()
check("no data: likelihood = log N(x; 2, 0.5^2 I)", err <= 1e-3, f"max error {err:.2e}")


def refused(path, array, words):
    np.save(path, array)
    run = subprocess.run([nodata, "sample", "--from", path], capture_output=True, text=True)
    ok = run.returncode == 1 and path in run.stderr and words in run.stderr
    check(f"no data: sample --from refuses {os.path.basename(path)}", ok, run.stderr.strip())


refused(os.path.join(work, "two.npy"), np.zeros((4, 2), np.float32), "values per point")
refused(os.path.join(work, "scalar.npy"), np.float32(1.0), "0-d array")
refused(os.path.join(work, "empty.npy"), np.zeros((0, 3), np.float32), "no points")
sys.exit(1 if failures else 0)
