"""What every layer may use of datasets: the `Dataset` splits, the validation split rule, the generated set.

`harness.datasets` loads the real datasets (MNIST, FashionMNIST, CelebA, digits) into `Dataset`s; this module is
what methods and tasks may rely on without the harness: `Dataset` (float32 images `[N, C, H, W]` in [0, 1] with
train / validation / test splits), `split_validation` (validation = `min(5000, N_train // 5)` training images
drawn with a fixed seed, as the paper's appendix A for MNIST) and `synthetic()`, a tiny generated set (four
classes of 8x8 bars) that contract checks (`methods.testing.check_method`) train on in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import torch

VALIDATION_SEED = 0


@dataclass
class Dataset:
    """Splits of one dataset. `*_y` are class labels `[N]` or binary attributes `[N, A]`."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    label_names: list[str] = field(default_factory=list)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_x.shape[1:])

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        if name not in ("train", "val", "test"):
            raise ValueError(f"Unknown split '{name}'. Available: train, val, test.")
        return getattr(self, f"{name}_x"), getattr(self, f"{name}_y")


def split_validation(name, train_x, train_y, test_x, test_y, label_names=()) -> Dataset:
    n_val = min(5000, len(train_x) // 5)
    perm = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(VALIDATION_SEED))
    val_idx, train_idx = perm[:n_val].sort().values, perm[n_val:].sort().values
    return Dataset(
        name,
        train_x[train_idx],
        train_y[train_idx],
        train_x[val_idx],
        train_y[val_idx],
        test_x,
        test_y,
        list(label_names),
    )


@lru_cache(maxsize=1)
def synthetic(n_train: int = 480, n_test: int = 160) -> Dataset:
    """Four classes of 1x8x8 images (a bar in one of four orientations), with noise: seconds to learn."""
    g = torch.Generator().manual_seed(1234)
    templates = torch.zeros(4, 8, 8)
    templates[0, 3:5, :] = 1
    templates[1, :, 3:5] = 1
    templates[2] = torch.eye(8) + torch.eye(8).roll(1, 1)
    templates[3] = templates[2].flip(1)
    templates = templates.clamp(0, 1)

    def make(n):
        y = torch.arange(n) % 4
        shift = torch.randint(-1, 2, (n,), generator=g)
        x = torch.stack([templates[c].roll(int(s), dims=int(c) % 2) for c, s in zip(y, shift)])
        x = (0.8 * x + 0.15 * torch.rand(n, 8, 8, generator=g)).clamp(0, 1)
        return x.unsqueeze(1), y

    return split_validation("synthetic", *make(n_train), *make(n_test))
