"""Tests for methods.curvature: diag_ggn against autograd brute force, a dense Algorithm-1 reference, BackPACK.

Brute force: per-sample `jacrev` of the flattened output w.r.t. every parameter, diag(J^T J) summed over
the batch. The dense reference runs Algorithm 1 (and its diagonal/mixed variants) with explicit per-layer
Jacobians, so the fast rules of "approx" and "mix" are checked too. All nets are tiny and float64.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.func import functional_call, jacrev

from methods.curvature import SUPPORTED_LAYERS, check_supported, diag_ggn

HUGE = 10**12


# ----------------------------------------------------------------------------- references
def brute_force(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    params = {k: v.detach() for k, v in model.named_parameters()}
    out = {k: torch.zeros_like(v) for k, v in params.items()}
    for n in range(x.shape[0]):
        jac = jacrev(lambda p: functional_call(model, p, (x[n : n + 1],)).flatten())(params)
        for k in out:
            out[k] += jac[k].square().sum(0)
    return list(out.values())


def _leaves(module: nn.Module) -> list[nn.Module]:
    if type(module) is nn.Sequential:
        return [leaf for child in module.children() for leaf in _leaves(child)]
    return [module]


def dense_algorithm1(
    model: nn.Module, x: torch.Tensor, mode: str, threshold: float = 0
) -> list[torch.Tensor]:
    """Algorithm 1 with dense per-layer Jacobians; 'approx' keeps diag(M), 'mix' switches on feature size."""
    limit = {"exact": float("inf"), "approx": -1, "mix": threshold}[mode]
    layers = _leaves(model)
    result = {id(p): torch.zeros_like(p) for p in model.parameters()}
    for n in range(x.shape[0]):
        acts = [x[n : n + 1]]
        for layer in layers:
            acts.append(layer(acts[-1]))
        d_out = acts[-1].numel()
        M, full = torch.eye(d_out, dtype=x.dtype), True
        if limit < d_out:
            M, full = torch.ones(d_out, dtype=x.dtype), False
        for k in range(len(layers) - 1, -1, -1):
            layer, xk, yk = layers[k], acts[k], acts[k + 1]
            want_full = yk.numel() <= limit
            if want_full and not full:
                M = torch.diag(M)
            elif full and not want_full:
                M = torch.diagonal(M)
            full = want_full
            params = dict(layer.named_parameters())
            if params:
                jp = jacrev(lambda p: functional_call(layer, p, (xk,)).flatten())(params)
                for name, p in params.items():
                    J = jp[name].reshape(yk.numel(), -1)
                    diag = (J * (M @ J)).sum(0) if full else (M[:, None] * J.square()).sum(0)
                    result[id(p)] += diag.reshape(p.shape)
            A = jacrev(lambda z: layer(z).flatten())(xk).reshape(yk.numel(), xk.numel())
            if full:
                M = A.T @ M @ A
            elif type(layer) is nn.Linear and xk.numel() <= limit:
                M, full = A.T @ torch.diag(M) @ A, True  # the documented exact expansion for Linear
            else:
                M = (A.square() * M[:, None]).sum(0)
    return [result[id(p)] for p in model.parameters()]


def rel_err(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    """Largest per-parameter relative error ||a - b|| / ||b||."""
    return max(((u - v).norm() / v.norm().clamp_min(1e-300)).item() for u, v in zip(a, b))


def global_rel_err(a, b) -> float:
    u, v = torch.cat([t.flatten() for t in a]), torch.cat([t.flatten() for t in b])
    return ((u - v).norm() / v.norm()).item()


# ----------------------------------------------------------------------------- nets
def conv_ae() -> tuple[nn.Module, tuple[int, ...]]:
    encoder = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1),
        nn.Tanh(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(3 * 4 * 4, 4),
    )
    decoder = nn.Sequential(
        nn.Linear(4, 3 * 4 * 4),
        nn.Tanh(),
        nn.Unflatten(1, (3, 4, 4)),
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(3, 2, 3, padding="same"),
        nn.Sigmoid(),
    )
    return nn.Sequential(encoder, decoder), (2, 8, 8)


def conv_transpose_net() -> tuple[nn.Module, tuple[int, ...]]:
    return nn.Sequential(
        nn.Conv2d(2, 3, 3, stride=2, padding=1, dilation=1),
        nn.ReLU(),
        nn.AvgPool2d(2, padding=1, count_include_pad=False),
        nn.LeakyReLU(0.1),
        nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1),
        nn.ELU(),
        nn.Identity(),
        nn.Dropout(0.3),
        nn.ConvTranspose2d(2, 2, 2, stride=2, bias=False),
        nn.Softplus(beta=2.0),
        nn.Conv2d(2, 2, 3, dilation=2, padding=2),
        nn.SiLU(),
        nn.AvgPool2d(3, stride=2, padding=1),
        nn.GELU(),
        nn.MaxPool2d(3, stride=1, padding=1),
    ), (2, 7, 7)


def mlp() -> tuple[nn.Module, tuple[int, ...]]:
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(12, 8),
        nn.Tanh(),
        nn.Linear(8, 3),
        nn.Tanh(),
        nn.Linear(3, 8),
        nn.Tanh(),
        nn.Linear(8, 12),
        nn.Unflatten(1, (3, 4)),
    ), (3, 4)


def nested() -> tuple[nn.Module, tuple[int, ...]]:
    inner = nn.Sequential(nn.Sequential(nn.Conv2d(1, 2, 2, stride=2), nn.Tanh()), nn.Flatten())
    return nn.Sequential(
        inner,
        nn.Sequential(
            nn.Linear(8, 5),
            nn.Sequential(nn.Sigmoid(), nn.Linear(5, 6), nn.GELU(approximate="tanh")),
        ),
    ), (1, 4, 4)


def small_output_conv_ae() -> tuple[nn.Module, tuple[int, ...]]:
    """The paper conv AE's shape in miniature: conv features (4x6x6 = 144) larger than the output (36) and the
    bottleneck; with threshold 40 a mix backward leaves an exact output region into a large conv input."""
    encoder = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.Tanh(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(36, 6),
        nn.Tanh(),
        nn.Linear(6, 2),
    )
    decoder = nn.Sequential(
        nn.Linear(2, 6),
        nn.Tanh(),
        nn.Linear(6, 36),
        nn.Tanh(),
        nn.Unflatten(1, (4, 3, 3)),
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(4, 1, 3, padding=1),
    )
    return nn.Sequential(encoder, decoder), (1, 6, 6)


def linear_chain() -> tuple[nn.Module, tuple[int, ...]]:
    """Linear layers back to back (no activation in between) and widths close to each other: exercises the
    lazy diag(sqrt(m)) W factor without column scaling and its direct reduction to a diagonal."""
    return nn.Sequential(
        nn.Linear(12, 5), nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 5), nn.Linear(5, 12)
    ), (12,)


NETS = {
    "conv_ae": conv_ae,
    "conv_transpose": conv_transpose_net,
    "mlp": mlp,
    "nested": nested,
    "small_output_conv_ae": small_output_conv_ae,
    "linear_chain": linear_chain,
}


def make(name: str, batch: int = 3, seed: int = 0):
    torch.manual_seed(seed)
    net, shape = NETS[name]()
    net = net.double().eval()
    return net, torch.randn(batch, *shape, dtype=torch.float64)


def test_nets_cover_every_supported_layer():
    used = {type(m) for name in NETS for m in _leaves(make(name)[0])}
    missing = {t.__name__ for t in SUPPORTED_LAYERS} - {t.__name__ for t in used}
    assert missing <= {"UpsamplingNearest2d", "Dropout1d", "Dropout2d"}, missing


# ----------------------------------------------------------------------------- correctness
@pytest.mark.parametrize("name", NETS)
def test_exact_matches_brute_force(name):
    net, x = make(name)
    ref = brute_force(net, x)
    got = diag_ggn(net, x, "exact")
    assert [g.shape for g in got] == [p.shape for p in net.parameters()]
    assert rel_err(got, ref) < 1e-6
    assert rel_err(dense_algorithm1(net, x, "exact"), ref) < 1e-6  # the reference itself is right


@pytest.mark.parametrize("name", NETS)
def test_approx_and_mix_match_dense_reference(name):
    net, x = make(name, batch=2)
    assert rel_err(diag_ggn(net, x, "approx"), dense_algorithm1(net, x, "approx")) < 1e-6
    for threshold in (5, 8, 40):
        assert (
            rel_err(
                diag_ggn(net, x, "mix", threshold=threshold),
                dense_algorithm1(net, x, "mix", threshold),
            )
            < 1e-6
        )


@pytest.mark.parametrize("name", NETS)
def test_mix_limits(name):
    net, x = make(name)
    exact, approx = diag_ggn(net, x, "exact"), diag_ggn(net, x, "approx")
    assert rel_err(diag_ggn(net, x, "mix", threshold=HUGE), exact) < 1e-10
    assert rel_err(diag_ggn(net, x, "mix", threshold=0), approx) < 1e-10


@pytest.mark.parametrize(
    "net",
    [
        nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Sigmoid()),
        nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, stride=2), nn.Tanh(), nn.Softplus()),
        nn.Sequential(nn.ConvTranspose2d(2, 3, 3, stride=2), nn.ELU()),
    ],
    ids=["linear", "conv", "conv_transpose"],
)
def test_approx_is_exact_while_M_stays_diagonal(net):
    torch.manual_seed(1)
    net = net.double()
    x = (
        torch.randn(3, 6, dtype=torch.float64)
        if isinstance(net[0], nn.Linear)
        else torch.randn(3, 2, 5, 5, dtype=torch.float64)
    )
    assert rel_err(diag_ggn(net, x, "approx"), brute_force(net, x)) < 1e-10


def fig7_net(depth: int = 5) -> nn.Sequential:
    return nn.Sequential(
        *[m for _ in range(depth) for m in (nn.Conv2d(3, 3, 3, padding=1), nn.Tanh())]
    )


@pytest.mark.parametrize("name", ["conv_ae", "mlp", "fig7"])
def test_approx_error_on_deeper_nets(name):
    if name == "fig7":
        torch.manual_seed(0)
        net, x = fig7_net().double(), torch.randn(2, 3, 8, 8, dtype=torch.float64)
    else:
        net, x = make(name)
    exact = diag_ggn(net, x, "exact")
    approx = diag_ggn(net, x, "approx")
    mix = diag_ggn(net, x, "mix", threshold=64)
    err_a, err_m = global_rel_err(approx, exact), global_rel_err(mix, exact)
    print(
        f"\n[approx vs exact] {name}: relative error approx={err_a:.3f} mix(threshold=64)={err_m:.3f}; "
        f"worst parameter approx={rel_err(approx, exact):.3f}"
    )
    assert all(torch.isfinite(t).all() and (t >= 0).all() for t in approx + mix)
    assert err_a < 1.0 and err_m < 1.0  # a sanity bound, not a claim about the approximation


@pytest.mark.filterwarnings("ignore:Full backward hook")
def test_backpack_diag_ggn_exact_is_twice_ours():
    backpack = pytest.importorskip("backpack")
    from backpack.extensions import DiagGGNExact

    torch.manual_seed(2)
    net = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1),
        nn.Tanh(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(3 * 3 * 3, 5),
    ).double()
    x, target = torch.randn(4, 2, 6, 6, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)
    ours = diag_ggn(net, x, "exact")
    bp_net = backpack.extend(copy.deepcopy(net))
    loss_fn = backpack.extend(nn.MSELoss(reduction="sum"))
    with backpack.backpack(DiagGGNExact()):
        loss_fn(bp_net(x), target).backward()
    # MSELoss(sum) = ||f - t||^2 has output Hessian 2 I; ours uses 0.5 ||f - t||^2 (Hessian I).
    theirs = [p.diag_ggn_exact for p in bp_net.parameters()]
    assert rel_err([2 * o for o in ours], theirs) < 1e-8


# ----------------------------------------------------------------------------- errors
def test_unsupported_layer_is_named_before_computing():
    model = nn.Sequential(
        nn.Sequential(nn.Flatten(), nn.Linear(4, 3)),
        nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 3), nn.BatchNorm1d(3)),
    )
    with pytest.raises(
        NotImplementedError,
        match=r"'1\.3' \(BatchNorm1d\).*Supported: .*Conv2d.*"
        r"Add a rule in methods/curvature/",
    ):
        check_supported(model)
    with pytest.raises(NotImplementedError, match="BatchNorm1d"):
        diag_ggn(model, torch.randn(2, 2, 2), "approx")


def test_custom_container_and_bad_configurations_raise():
    class AE(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)

        def forward(self, x):
            return self.lin(x)

    with pytest.raises(NotImplementedError, match=r"'<model>' \(AE\)"):
        check_supported(AE())
    with pytest.raises(NotImplementedError, match="groups=2"):
        check_supported(nn.Sequential(nn.Conv2d(2, 2, 3, groups=2)))
    with pytest.raises(NotImplementedError, match="mode='bilinear'"):
        check_supported(nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear")))
    shared = nn.Linear(2, 2)
    with pytest.raises(NotImplementedError, match="shared"):
        check_supported(nn.Sequential(shared, nn.Tanh(), shared))


def test_bad_mode_and_options_raise():
    net, x = make("mlp")
    with pytest.raises(ValueError, match="Unknown mode 'exakt'. Available: exact, approx, mix"):
        diag_ggn(net, x, "exakt")
    with pytest.raises(ValueError, match="precision"):
        diag_ggn(net, x, "exact", precision=0)
    with pytest.raises(ValueError, match="threshold"):
        diag_ggn(net, x, "mix", threshold=-1)
    with pytest.raises(ValueError, match="target"):
        diag_ggn(net, x, "exact", target=torch.zeros(3, 5))


def test_dropout_in_training_mode():
    net = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5)).double()
    x = torch.randn(2, 3, dtype=torch.float64)
    with pytest.raises(
        ValueError, match=r"'1' \(Dropout\) is in training mode with p=0.5.*model.eval\(\)"
    ):
        diag_ggn(net.train(), x)
    p0 = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.0)).double().train()
    assert rel_err(diag_ggn(p0, x), brute_force(p0.eval(), x)) < 1e-10
    assert rel_err(diag_ggn(net.eval(), x), brute_force(net, x)) < 1e-10


# ----------------------------------------------------------------------------- conventions
def test_precision_dtype_chunks_and_model_untouched():
    net, x = make("conv_ae", batch=5)
    before = [p.detach().clone() for p in net.parameters()]
    base = diag_ggn(net, x, "exact")
    assert rel_err(diag_ggn(net, x, "exact", precision=2.0), [2 * b for b in base]) < 1e-12
    assert rel_err(diag_ggn(net, x, "exact", chunk_size=2), base) < 1e-12
    assert rel_err(diag_ggn(net, x, "approx", chunk_size=3), diag_ggn(net, x, "approx")) < 1e-12
    assert all(torch.equal(b, p) and p.grad is None for b, p in zip(before, net.parameters()))

    net32, x32 = copy.deepcopy(net).float(), x.float()
    for mode in ("exact", "approx", "mix"):
        got = diag_ggn(net32, x32, mode, threshold=40)
        assert all(g.dtype == torch.float32 for g in got)
        assert rel_err([g.double() for g in got], diag_ggn(net, x, mode, threshold=40)) < 1e-3
    assert all(p.grad is None for p in net32.parameters())


def test_parameter_order_follows_model_parameters():
    net, x = make("nested")
    got = diag_ggn(net, x, "approx")
    assert [g.shape for g in got] == [p.shape for p in net.parameters()]
    assert [path for path, _, _ in check_supported(net)][:3] == ["0.0.0", "0.0.1", "0.1"]


# ----------------------------------------------------------------------------- mix: leaving the small region
def test_mix_is_exact_from_the_output_down_to_the_first_large_input():
    """Threshold 40 on an encoder whose conv features (144) are large and whose tail (36 -> 6 -> 6 -> 5) is small.

    M is exact from the output through Linear(36, 6), whose input (36) is still small; MaxPool's input (144) is
    large, so M leaves the region as the exact diagonal of J^T M J (never a [144, 144] matrix) and the conv
    below sees the diagonal approximation. So the three Linear layers must equal "exact", the conv must not.
    """
    torch.manual_seed(3)
    net = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        nn.Tanh(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(36, 6),
        nn.Tanh(),
        nn.Linear(6, 6),
        nn.Tanh(),
        nn.Linear(6, 5),
    ).double()
    x = torch.randn(3, 2, 6, 6, dtype=torch.float64)
    mix, exact = diag_ggn(net, x, "mix", threshold=40), brute_force(net, x)
    assert rel_err(mix, dense_algorithm1(net, x, "mix", 40)) < 1e-10
    assert rel_err(mix[2:], exact[2:]) < 1e-10  # the Linear layers' weights and biases
    assert (
        rel_err(mix[:1], exact[:1]) > 1e-3
    )  # the conv weight: approximate, so the check above means something
    assert (
        rel_err(diag_ggn(net, x, "approx")[2:4], exact[2:4]) > 1e-3
    )  # Linear(36, 6): "approx" is not exact


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
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(root)}
    proc = subprocess.run(
        [sys.executable, "-c", _PAPER_CONV_SCRIPT],
        cwd=root,
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


# ----------------------------------------------------------------------------- paths of the exact backward
def test_exact_stops_at_the_first_parametric_layer(monkeypatch):
    """No M is propagated to the input of the first layer with parameters (nor through the layers before it)."""
    from methods.curvature import engine
    from methods.curvature.base import Rule
    from methods.curvature.linear import LinearRule
    from methods.curvature.pooling import AvgPool2dRule

    torch.manual_seed(0)
    net = nn.Sequential(
        nn.AvgPool2d(2), nn.Flatten(), nn.Linear(8, 5), nn.Tanh(), nn.Linear(5, 4)
    ).double()
    x = torch.randn(3, 2, 4, 4, dtype=torch.float64)
    reference = brute_force(net, x)
    propagated = []
    methods = ("vjp", "diag_backprop", "factor_backprop", "factor_to_diag", "expand_diag")
    for cls in (Rule, LinearRule, AvgPool2dRule):
        for name in methods:
            if name in vars(cls):
                original = vars(cls)[name]
                monkeypatch.setattr(
                    cls,
                    name,
                    lambda self, module, *a, _o=original: (
                        propagated.append(module),
                        _o(self, module, *a),
                    )[1],
                )
    for name in (
        "times",
        "times_to_diag",
    ):  # the lazy factor's products with the next Linear's weight
        original = getattr(engine.Scaled, name)
        monkeypatch.setattr(
            engine.Scaled,
            name,
            lambda self, w, *a, _o=original: (propagated.append(w), _o(self, w, *a))[1],
        )
    for mode in ("exact", "approx", "mix"):
        got = diag_ggn(net, x, mode, threshold=6)
        if mode != "approx":
            assert rel_err(got, reference) < 1e-10
    assert propagated and not any(
        m is net[0] or m is net[1] or m is net[2] or m is net[2].weight for m in propagated
    )


def test_exact_paths_are_exercised_and_exact(monkeypatch):
    """The factor paths (lazy Linear expansion with and without activations, QR compression, reduction to a
    diagonal) all run on the test nets, and each result equals the brute-force reference."""
    from methods.curvature import engine

    used = set()
    for cls, name in (
        (engine.Scaled, "times"),
        (engine.Scaled, "times_to_diag"),
        (engine.Scaled, "factor"),
    ):
        original = getattr(cls, name)
        monkeypatch.setattr(
            cls, name, lambda self, *a, _o=original, _n=name: (used.add(_n), _o(self, *a))[1]
        )
    original_compress = engine._compress
    monkeypatch.setattr(
        engine, "_compress", lambda L: (used.add("compress"), original_compress(L))[1]
    )
    for name in NETS:
        net, x = make(name, batch=2)
        for threshold in (HUGE, 5, 8, 40):
            assert (
                rel_err(
                    diag_ggn(net, x, "mix", threshold=threshold),
                    dense_algorithm1(net, x, "mix", threshold)
                    if threshold < HUGE
                    else brute_force(net, x),
                )
                < 1e-6
            )
    assert used == {"times", "times_to_diag", "factor", "compress"}, used


# ----------------------------------------------------------------------------- recorded activations
@pytest.mark.parametrize("name", NETS)
def test_recorded_activations_give_the_same_result(name):
    from methods.curvature import record_activations

    net, x = make(name, batch=3)
    for grad in (
        True,
        False,
    ):  # with grad, max pooling's indices come from autograd's saved tensors
        with torch.set_grad_enabled(grad), record_activations(net) as record:
            out = net(x)
        assert len(record.outputs) == len(check_supported(net)) and torch.equal(
            record.outputs[-1], out
        )
        for mode in ("exact", "approx", "mix"):
            ref = diag_ggn(net, x, mode, threshold=8)
            got = diag_ggn(net, x, mode, threshold=8, activations=record)
            assert rel_err(got, ref) < 1e-12
        assert len(record.outputs) == len(check_supported(net))  # diag_ggn leaves the record intact
    assert all(p.grad is None for p in net.parameters())


def test_recorded_activations_are_checked():
    from methods.curvature import record_activations

    net, x = make("mlp")
    with record_activations(net) as record:
        net(x)
        net(x)
    with pytest.raises(ValueError, match="one output per layer"):
        diag_ggn(net, x, "approx", activations=record)
    with pytest.raises(NotImplementedError, match="in-place"):
        record_activations(nn.Sequential(nn.Linear(2, 2), nn.ReLU(inplace=True)))


# ----------------------------------------------------------------------------- the memory planner against the steps
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
