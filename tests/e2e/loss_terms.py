"""Checks metrics.jsonl of a flow with several losses: every line logs each
named loss under "losses", and "loss" (what trained) is their sum to 1e-5
relative. Baselines that must fail: no term alone is the total (on some
line each other term is more than 1e-3 of it), so a runtime that logged one
term as the loss, or trained one term only, fails here."""
import argparse
import json
import sys

parser = argparse.ArgumentParser()
parser.add_argument("metrics")
parser.add_argument("--names", nargs="+", required=True)
args = parser.parse_args()

lines = [json.loads(l) for l in open(args.metrics) if l.strip()]
if len(lines) < 2:
    sys.exit(f"expected several metrics lines, got {len(lines)}")
worst_sum = 0.0
gap = {name: 0.0 for name in args.names}  # max over lines of |loss - term|
for line in lines:
    terms = line.get("losses")
    if not terms or sorted(terms) != sorted(args.names):
        sys.exit(f"step {line['step']}: losses {terms}, expected {args.names}")
    total = line["loss"]
    scale = max(1.0, abs(total))
    worst_sum = max(worst_sum, abs(total - sum(terms.values())) / scale)
    for name, value in terms.items():
        gap[name] = max(gap[name], abs(total - value) / scale)
smallest_gap = min(gap.values())
print(f"[ measured ] |loss - sum of terms| / scale, worst = {worst_sum:.3g} "
      f"(bar 1e-5); a single term vs the loss, largest gap of the closest term = "
      f"{smallest_gap:.3g} (must exceed 1e-3)")
if worst_sum > 1e-5:
    sys.exit("the logged loss is not the sum of the terms")
if smallest_gap <= 1e-3:
    sys.exit("one term alone equals the loss: the other term does not count")
