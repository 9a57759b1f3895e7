"""The variance-sources diagnostic scores every image with the same networks, whatever its batch or position."""

import torch

from benchmarks.laplace_variance_sources import _variance_score
from methods.laplace_common import SampledAutoencoder


def test_an_image_gets_the_same_score_in_any_batch_and_position():
    torch.manual_seed(0)
    encoder, decoder = (
        torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2)),
        torch.nn.Linear(2, 16),
    )
    net = SampledAutoencoder(encoder, decoder)
    mean = [p.detach() for p in [*encoder.parameters(), *decoder.parameters()]]
    std = [torch.full_like(m, 0.1) for m in mean]
    masks = [torch.ones_like(m) for m in mean]
    x = torch.rand(10, 1, 4, 4)
    score = _variance_score(net, mean, std, masks, x, 5, seed=3, batch_size=4)
    order = torch.randperm(10)
    moved = _variance_score(net, mean, std, masks, x[order], 5, seed=3, batch_size=3)
    assert torch.allclose(moved, score[order], atol=1e-7)
    assert not torch.allclose(_variance_score(net, mean, std, masks, x, 5, seed=4), score)
