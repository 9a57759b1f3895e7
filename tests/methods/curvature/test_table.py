"""The rule table and the model walk (table.py): the test nets hold every supported layer, an unsupported layer or
configuration is named before any computation, and `record_activations` gives the same result as a fresh
forward pass and is checked."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from methods.curvature import SUPPORTED_LAYERS, check_supported, diag_ggn
from tests.methods.curvature.nets import NETS, make
from tests.methods.curvature.reference import leaves, rel_err


def test_nets_cover_every_supported_layer():
    used = {type(m) for name in NETS for m in leaves(make(name)[0])}
    missing = {t.__name__ for t in SUPPORTED_LAYERS} - {t.__name__ for t in used}
    assert missing <= {"UpsamplingNearest2d", "Dropout1d", "Dropout2d"}, missing


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
