"""diag_ggn (engine.py) against autograd brute force, the dense Algorithm-1 reference and BackPACK in the three
modes; the mix regions; its options, conventions and errors; where the exact backward stops."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from methods.curvature import check_supported, diag_ggn
from tests.methods.curvature.nets import NETS, make
from tests.methods.curvature.reference import (
    HUGE,
    brute_force,
    dense_algorithm1,
    global_rel_err,
    rel_err,
)


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
