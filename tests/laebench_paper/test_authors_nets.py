"""The plugin of laebench_paper/configs/table3-mcae-net.yaml: the MC-AE on the authors' released conv network keeps
`mc_ae`'s contract, and its networks are the authors' (dropout placement, three decoder convs), not appendix A's."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from torch import nn

import methods
from laebench.datasets import Dataset
from methods.base import ModelSpec
from methods.testing import check_method
from tests.conftest import ROOT

PLUGIN = ROOT / "laebench_paper" / "configs" / "authors_nets.py"
CONV = {"arch": "conv", "latent_dim": 2}


@pytest.fixture
def plugin(scoped_registries):
    spec = importlib.util.spec_from_file_location("authors_nets", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _images(n: int, side: int, seed: int) -> torch.Tensor:
    return torch.rand(n, 1, side, side, generator=torch.Generator().manual_seed(seed))


def _data(side: int = 28) -> Dataset:
    labels = torch.arange(32) % 4
    return Dataset(
        "random28",
        _images(32, side, 0),
        labels,
        _images(16, side, 1),
        labels[:16],
        _images(8, side, 2),
        labels[:8],
    )


def _layers(net: nn.Module, kind: type) -> int:
    return sum(isinstance(m, kind) for m in net.modules())


def test_it_keeps_the_method_contract_on_28px_images(plugin):
    fitted = check_method(methods.get("mc_ae_authors_net"), _data(), params={"p": 0.2}, model=CONV)
    assert fitted.decoder(torch.zeros(3, 2)).shape == (3, 1, 28, 28)


def test_its_networks_are_the_authors_not_appendix_a(plugin):
    shape = (1, 28, 28)
    ours = methods.get("mc_ae")(ModelSpec("mc_ae", {"p": 0.2}, {"name": "x"}, CONV, {}, 0), shape)
    theirs = methods.get("mc_ae_authors_net")(
        ModelSpec("mc_ae_authors_net", {"p": 0.2}, {"name": "x"}, CONV, {}, 0), shape
    )
    ours.build()
    theirs.build()
    # dropout: the authors' encoder only after its two conv blocks, appendix A's after every tanh
    assert (_layers(theirs.encoder, nn.Dropout), _layers(ours.encoder, nn.Dropout)) == (2, 4)
    assert (_layers(theirs.decoder, nn.Dropout), _layers(ours.decoder, nn.Dropout)) == (5, 4)
    # the authors' decoder: three convs, each before its upsampling; appendix A's: two, each after
    assert (_layers(theirs.decoder, nn.Conv2d), _layers(ours.decoder, nn.Conv2d)) == (3, 2)
    first_conv = next(i for i, m in enumerate(theirs.decoder) if isinstance(m, nn.Conv2d))
    assert isinstance(theirs.decoder[first_conv + 1], nn.Upsample)


@pytest.mark.parametrize("model, side", [({"arch": "mlp", "latent_dim": 2}, 28), (CONV, 8)])
def test_other_networks_are_refused_in_one_line(plugin, model, side):
    method = methods.get("mc_ae_authors_net")(
        ModelSpec("mc_ae_authors_net", {}, {"name": "x"}, model, {}, 0), (1, side, side)
    )
    with pytest.raises(ValueError, match=r"28x28 conv network only.*use mc_ae\.$"):
        method.build()
