"""The memory planner (planner.py) against the steps the engine takes: the steps taken are the steps planned, no
step holds more than planned, and "mix" on the paper's conv AE never allocates a quadratic M."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from methods.curvature import check_supported, diag_ggn
from tests.conftest import ROOT
from tests.methods.curvature.nets import NETS, make
from tests.methods.curvature.reference import brute_force, rel_err

_PAPER_CONV_SCRIPT = r"""
import json, resource, sys, time
import torch
from torch import nn
from methods.architectures import build_decoder, build_encoder
from methods.curvature import diag_ggn

torch.set_num_threads(1)
vm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmSize")) * 1024
# 3 GiB above what is mapped now; a quadratic [B, 50176, 50176] M would need 10 GB per sample.
resource.setrlimit(resource.RLIMIT_AS, (vm + (3 << 30), resource.getrlimit(resource.RLIMIT_AS)[1]))
torch.manual_seed(0)
model = {"arch": "conv", "latent_dim": 2}
net = nn.Sequential(build_encoder(model, (1, 28, 28)), build_decoder(model, (1, 28, 28)))
out = {}
for batch, threshold in ((8, None), (2, 4096)):
    x = torch.rand(batch, 1, 28, 28)
    kw = {} if threshold is None else {"threshold": threshold}
    start = time.perf_counter()
    got = diag_ggn(net, x, "mix", **kw)
    out[str(threshold)] = {"seconds": time.perf_counter() - start,
                           "ok": all(bool(torch.isfinite(g).all() and (g >= 0).all()) for g in got)}
print(json.dumps(out))
"""


def test_mix_on_the_paper_conv_ae_has_no_quadratic_memory():
    """Regression: the 1x28x28 output (784 <= threshold) of the paper's conv AE used to push a full M into
    the last conv's 64x28x28 input, allocating [B, 50176, 50176] (90 GB at B = 9). Runs in a subprocess whose
    address space is capped at 3 GiB above start-up, with the default threshold (batch 8) and 4096 (batch 2:
    exact on the decoder's 3136-2048-1024 layers costs ~6.6 GFLOP per sample, inherently)."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", _PAPER_CONV_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"\n[paper conv AE, mix] {result}")
    assert all(r["ok"] for r in result.values())


def test_mix_default_threshold_costs_about_approx_on_the_paper_conv_ae():
    """The default threshold (1024) keeps the bottleneck block exact without any large factor: the decoder's
    2048 -> 1024 expansion stays lazy, so no step allocates more than a few [B, 2048, 2] factors."""
    from methods.architectures import build_decoder, build_encoder
    from methods.curvature import DEFAULT_THRESHOLD, engine, planner

    torch.manual_seed(0)
    model = {"arch": "conv", "latent_dim": 2}
    net = nn.Sequential(build_encoder(model, (1, 28, 28)), build_decoder(model, (1, 28, 28)))
    layers = check_supported(net)
    x = torch.rand(2, 1, 28, 28)
    outputs, _ = engine._forward(layers, x)
    peak = planner.plan_peak_elements(layers, [x, *outputs[:-1]], outputs, 0, DEFAULT_THRESHOLD)
    assert (
        DEFAULT_THRESHOLD == 1024 and peak <= 2048 * 2 + 2 * 2048
    )  # per sample, vs 50176**2 before
    assert planner.plan_peak_elements(layers, [x, *outputs[:-1]], outputs, 0, 4096) >= 3136 * 1024


@pytest.mark.parametrize("name", NETS)
def test_planner_follows_the_steps_and_covers_what_they_hold(name):
    """The planner (batch chunking) runs the rules' own decisions on shapes: the steps taken are the steps
    planned, and no step holds more factor entries per sample than planned (measured from the real tensors)."""
    net, x = make(name, batch=3)
    for mode, threshold in [("exact", 0), ("approx", 0), ("mix", 5), ("mix", 8), ("mix", 40)]:
        stats = {}
        diag_ggn(net, x, mode, threshold=threshold, stats=stats)
        assert stats["taken"] == stats["planned"], (mode, threshold)
        assert all(held <= step.elements for held, step in zip(stats["held"], stats["planned"])), (
            mode,
            threshold,
        )
        assert 0 <= stats["measured_peak_elements"] <= stats["planned_peak_elements"], (
            mode,
            threshold,
            stats,
        )
        if mode == "exact":
            assert (
                stats["measured_peak_elements"] > 0
            )  # exact M is held as factors: something was measured
        if mode == "approx":
            assert stats["planned_peak_elements"] == stats["measured_peak_elements"] == 0


def test_planner_notices_a_step_that_holds_more_than_planned(monkeypatch):
    """A Linear rule that returns its factor with twice the rows (each scaled by 1/sqrt 2) is still exact, but
    holds more memory than the planner was told about: the check above fails on it."""
    from methods.curvature.linear import LinearRule

    net, x = make("mlp", batch=2)
    original = LinearRule.factor_backprop
    monkeypatch.setattr(
        LinearRule,
        "factor_backprop",
        lambda self, *a: torch.cat([original(self, *a)] * 2, dim=1) / 2**0.5,
    )
    stats = {}
    assert rel_err(diag_ggn(net, x, "exact", stats=stats), brute_force(net, x)) < 1e-10
    assert any(held > step.elements for held, step in zip(stats["held"], stats["planned"]))
    assert stats["taken"] != stats["planned"]


def test_planner_on_the_paper_conv_ae_matches_its_steps():
    from methods.architectures import build_decoder, build_encoder

    torch.manual_seed(0)
    model = {"arch": "conv", "latent_dim": 2}
    net = nn.Sequential(build_encoder(model, (1, 28, 28)), build_decoder(model, (1, 28, 28)))
    stats = {}
    diag_ggn(net, torch.rand(2, 1, 28, 28), "mix", stats=stats)
    assert stats["taken"] == stats["planned"] and stats["chunk_size"] == 2
    assert (
        0 < stats["measured_peak_elements"] <= stats["planned_peak_elements"] <= 2048 * 2 + 2 * 2048
    )
