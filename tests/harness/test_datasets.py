"""Datasets: generated and bundled sets always; the real ones from ../shared/data when present."""

import pytest
import torch

from harness.datasets import DataNotFoundError, load_dataset
from tests.conftest import shared_data_root


def _check(data, shape, n_val):
    for split in ("train", "val", "test"):
        x, y = data.split(split)
        assert x.dtype == torch.float32 and tuple(x.shape[1:]) == shape and len(x) == len(y)
        assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert len(data.val_x) == n_val


def test_synthetic_and_digits():
    _check(load_dataset("synthetic"), (1, 8, 8), 96)
    digits = load_dataset("digits")
    _check(digits, (1, 8, 8), len(digits.train_x) // 4)  # val = 1/5 of the training pool
    assert len(digits.train_x) + len(digits.val_x) + len(digits.test_x) == 1797


def test_class_filter_and_limit():
    data = load_dataset("digits", classes=(0, 1, 2), train_limit=50)
    assert len(data.train_x) == 50
    assert set(data.test_y.tolist()) <= {0, 1, 2} and set(data.val_y.tolist()) <= {0, 1, 2}


def test_validation_split_is_fixed():
    a, b = load_dataset("synthetic"), load_dataset("synthetic")
    assert torch.equal(a.val_x, b.val_x)


def test_missing_files_error_names_files_and_fix(tmp_path):
    with pytest.raises(
        DataNotFoundError, match=r"MNIST files not found under .*train-images-idx3-ubyte.gz"
    ):
        load_dataset("fashionmnist" if False else "mnist", tmp_path)
    with pytest.raises(DataNotFoundError, match=r"CelebA not found under .*list_attr_celeba.txt"):
        load_dataset("celeba", tmp_path)


needs_shared = pytest.mark.skipif(shared_data_root() is None, reason="../shared/data not present")


def _listing(root):
    return sorted((p, p.stat().st_mtime) for p in root.rglob("*"))


@needs_shared
@pytest.mark.parametrize("name", ["mnist", "fashionmnist"])
def test_real_mnist_like(name):
    root = shared_data_root()
    before = _listing(root)
    data = load_dataset(name, root)
    _check(data, (1, 28, 28), 5000)
    assert len(data.train_x) == 55000 and len(data.test_x) == 10000
    assert set(data.test_y.unique().tolist()) == set(range(10))
    assert _listing(root) == before  # never writes into the data root


@needs_shared
def test_real_celeba_subset(tmp_path, monkeypatch):
    root = shared_data_root()
    if not (root / "celeba").exists():
        pytest.skip("no CelebA in the data root")
    before = _listing(root)
    data = load_dataset("celeba", root)
    assert data.train_y.shape[1] == 40 and len(data.label_names) == 40
    assert "Arched_Eyebrows" in data.label_names
    assert tuple(data.train_x.shape[1:]) == (3, 64, 64)
    assert len(data.train_x) + len(data.val_x) + len(data.test_x) == 10000
    assert set(data.train_y.unique().tolist()) <= {0, 1}
    assert _listing(root) == before
