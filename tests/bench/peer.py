"""The PyTorch peer of tests/bench/run: flowc's network and loops written as
a flow_matching / torchcfm user writes them (eager PyTorch).

The MLP is flowc's (runtime/src/Network.cpp): input [x, sin(2 pi f t),
cos(2 pi f t)] with f = 1 .. TIME_FEATURES/2, `depth` Linear + SiLU layers of
`width`, and a Linear back to the data's size.
"""
import math
import statistics
import time

import torch
import torch.nn as nn

TIME_FEATURES = 16


class FlowcMlp(nn.Module):
    def __init__(self, dim, width, depth):
        super().__init__()
        layers, d = [], dim + TIME_FEATURES
        for _ in range(depth):
            layers += [nn.Linear(d, width), nn.SiLU()]
            d = width
        layers.append(nn.Linear(d, dim))
        self.net = nn.Sequential(*layers)
        self.register_buffer("freqs", torch.arange(1, TIME_FEATURES // 2 + 1).float())

    def forward(self, x, t):
        angle = 2 * math.pi * t.reshape(-1, 1) * self.freqs
        return self.net(torch.cat([x, torch.sin(angle), torch.cos(angle)], 1))


def configure(threads):
    torch.set_num_threads(threads)


def timed(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(case, repeats):
    """{"seconds": ...} for sampling, {"steps_per_sec": ...} for training."""
    torch.manual_seed(0)
    model = FlowcMlp(2, case["width"], case["depth"])
    if case["kind"] == "sample":
        n, steps = case["n"], case["steps"]
        x0 = torch.randn(n, 2)

        @torch.no_grad()
        def euler():
            x, h = x0.clone(), 1.0 / steps
            for i in range(steps):
                x = x + h * model(x, torch.full((n, 1), i * h))
            return x

        return {"seconds": timed(euler, repeats)}
    batch, steps = case["batch"], case["steps"]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x1 = torch.randn(batch, 2)

    def train():
        for _ in range(steps):
            x0 = torch.randn(batch, 2)
            t = torch.rand(batch, 1)
            xt = (1 - t) * x0 + t * x1
            loss = ((model(xt, t) - (x1 - x0)) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()

    return {"steps_per_sec": steps / timed(train, max(1, repeats // 2))}
