"""The PyTorch peer of tests/bench/run: flowc's network and loops written as
a flow_matching / torchcfm user writes them (eager PyTorch).

The MLP is flowc's (runtime/src/Network.cpp): input [x, sin(2 pi f t),
cos(2 pi f t)] with f = 1/2, 3/2, .. (TIME_FEATURES-1)/2, `depth` Linear + SiLU layers of
`width`, and a Linear back to the data's size.
"""
import math
import statistics
import time

import torch
import torch.nn as nn

TIME_FEATURES = 16


class FlowcMlp(nn.Module):
    """flowc's MLP of `times` time arguments (each with its own features)."""

    def __init__(self, dim, width, depth, times=1):
        super().__init__()
        layers, d = [], dim + times * TIME_FEATURES
        for _ in range(depth):
            layers += [nn.Linear(d, width), nn.SiLU()]
            d = width
        layers.append(nn.Linear(d, dim))
        self.net = nn.Sequential(*layers)
        self.register_buffer("freqs", torch.arange(TIME_FEATURES // 2).float() + 0.5)

    def forward(self, x, *times):
        parts = [x]
        for t in times:
            angle = 2 * math.pi * t.reshape(-1, 1) * self.freqs
            parts += [torch.sin(angle), torch.cos(angle)]
        return self.net(torch.cat(parts, 1))


def configure(threads):
    torch.set_num_threads(threads)


def timed(fn, repeats, sync=lambda: None):
    fn()  # warm-up
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def graphed(fn):
    """fn captured once as a CUDA graph (PyTorch's best for a fixed loop):
    returns a function that replays it."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(2):  # warm-up on a side stream, as the docs ask
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph.replay


def measure(case, repeats, device="cpu"):
    """Every peer's figure for `case` on `device`: {impl: {"seconds": ...}}
    for sampling, {impl: {"steps_per_sec": ...}} for training. On a GPU:
    eager, torch.compile, and the whole loop or step as one CUDA graph; a
    peer that fails reports {"error": ...} instead."""
    torch.manual_seed(0)
    dev = torch.device(device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    dim = case.get("dim", 2)
    meanflow = case.get("objective") == "meanflow"
    times = 2 if meanflow else 1
    model = FlowcMlp(dim, case["width"], case["depth"], times).to(dev)
    results = {}
    # bf16 cases: the network under autocast, as a user writes it (the
    # state and the loss stay float32).
    bf16 = case.get("bf16", False)

    def autocast():
        return torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16)

    def peer(name, fn):
        try:
            results[name] = fn()
        except Exception as e:  # a peer that cannot run here is reported
            results[name] = {"error": f"{type(e).__name__}: {e}"[:200]}

    if case["kind"] == "sample":
        n, steps = case["n"], case["steps"]
        x0 = torch.randn(n, dim, device=dev)

        def euler_with(net):
            @torch.no_grad()
            def euler():
                x, h = x0.clone(), 1.0 / steps
                for i in range(steps):
                    with autocast():
                        v = net(x, torch.full((n, 1), i * h, device=dev))
                    x = x + h * v.float()
                return x
            return euler

        peer("torch-eager", lambda: {"seconds": timed(euler_with(model), repeats, sync)})

        def torchdiffeq_euler():
            # torchdiffeq's fixed-grid Euler: one step per interval of the
            # grid, the network called as func(t, x).
            from torchdiffeq import odeint
            grid = torch.linspace(0, 1, steps + 1, device=dev)

            @torch.no_grad()
            def solve():
                def field(t, x):
                    with autocast():
                        return model(x, t.expand(n, 1)).float()
                return odeint(field, x0, grid, method="euler")[-1]
            return {"seconds": timed(solve, repeats, sync)}

        peer("torchdiffeq", torchdiffeq_euler)
        if dev.type == "cuda":
            peer("torch-compile", lambda: {"seconds": timed(
                euler_with(torch.compile(model)),
                repeats, sync)})
            peer("torch-cuda-graph", lambda: {"seconds": timed(
                graphed(euler_with(model)), repeats, sync)})
        return results

    batch, steps = case["batch"], case["steps"]
    x1 = torch.randn(batch, dim, device=dev)

    def step_with(net, opt):
        def step():
            x0 = torch.randn(batch, dim, device=dev)
            t = torch.rand(batch, 1, device=dev)
            xt = (1 - t) * x0 + t * x1
            with autocast():
                v = net(xt, t)
            loss = ((v.float() - (x1 - x0)) ** 2).mean()
            opt.zero_grad(set_to_none=False)
            loss.backward()
            opt.step()
        return step

    def meanflow_step_with(net, opt):
        # examples/meanflow.flow's step as a torch.func user writes it: the
        # total derivative of u along (v, 1, de/dt) by torch.func.jvp.
        def step():
            x0 = torch.randn(batch, dim, device=dev)
            a = torch.sigmoid(0.4 + torch.randn(batch, 1, device=dev))
            b = torch.sigmoid(0.4 + torch.randn(batch, 1, device=dev))
            diagonal = torch.rand(batch, 1, device=dev) < 0.75
            t, e = torch.minimum(a, b), torch.where(diagonal, torch.minimum(a, b),
                                                     torch.maximum(a, b))
            zt = (1 - t) * x0 + t * x1
            v = x1 - x0
            u, dudt = torch.func.jvp(net, (zt, t, e), (v, torch.ones_like(t),
                                                       diagonal.float()))
            d = u - (v + (e - t) * dudt).detach()
            l = (d * d).sum(1)
            loss = (l / (l.detach() + 1e-3)).mean()
            opt.zero_grad(set_to_none=False)
            loss.backward()
            opt.step()
        return step

    if meanflow:
        step_with = meanflow_step_with  # noqa: F811

    def rate(step):
        def loop():
            for _ in range(steps):
                step()
        return {"steps_per_sec": steps / timed(loop, max(1, repeats // 2), sync)}

    peer("torch-eager", lambda: rate(step_with(model, torch.optim.Adam(model.parameters(), lr=1e-3))))
    if dev.type == "cuda":
        def compiled():
            m = FlowcMlp(dim, case["width"], case["depth"], times).to(dev)
            return rate(step_with(torch.compile(m), torch.optim.Adam(m.parameters(), lr=1e-3)))

        def whole_step_graph():
            m = FlowcMlp(dim, case["width"], case["depth"], times).to(dev)
            opt = torch.optim.Adam(m.parameters(), lr=1e-3, capturable=True)
            return rate(graphed(step_with(m, opt)))

        peer("torch-compile", compiled)
        peer("torch-cuda-graph", whole_step_graph)
    return results
