"""Datasets as in-memory tensors: MNIST, FashionMNIST, CelebA 64x64, sklearn digits, a generated set.

`load_dataset(spec, root)` returns a `Dataset` whose images are float32 `[N, C, H, W]` in [0, 1] with
train / validation / test splits; the validation split is `min(5000, N_train // 5)` training points
drawn with a fixed seed (paper, appendix A: 5,000 for MNIST). Files are read from the data root
(`--data-root`, else `$LAEBENCH_DATA`, else the user cache) and never written there: decoded tensors
are cached under `$LAEBENCH_CACHE` (default `~/.cache/laebench`). Batches are sliced from the tensors.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import lzma
import os
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from laebench.checkpoints import CheckpointError, load_checkpoint
from laebench.datasets import VALIDATION_SEED, Dataset, synthetic
from laebench.datasets import split_validation as _split_validation
from laebench.registry import Registry

DATASETS = Registry("dataset", "laebench.datasets")  # name -> loader(name, root) -> Dataset


def register_dataset(name: str):
    """Decorator: `@register_dataset("mydata") def load(name: str, root: Path) -> Dataset` (a plugin module
    listed under `plugins:`, or an installed package's `laebench.datasets` entry point). The loader reads files
    under the data root (never writes there) and returns a `laebench.datasets.Dataset`."""
    return DATASETS.register(name)


MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


class DataNotFoundError(FileNotFoundError):
    """A dataset's files are missing and cannot be downloaded."""


def cache_dir() -> Path:
    path = Path(os.environ.get("LAEBENCH_CACHE", Path.home() / ".cache" / "laebench"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def resolve_data_root(data_root: str | os.PathLike | None = None) -> Path:
    """`--data-root`, else `$LAEBENCH_DATA`, else `<cache>/data`."""
    if data_root:
        return Path(data_root).expanduser().resolve()
    if os.environ.get("LAEBENCH_DATA"):
        return Path(os.environ["LAEBENCH_DATA"]).expanduser().resolve()
    return cache_dir() / "data"


def load_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    classes: tuple[int, ...] | None = None,
    train_limit: int | None = None,
) -> Dataset:
    """Load a dataset by name, optionally keeping some classes and at most `train_limit` training images."""
    DATASETS.get(name)  # an unknown name: one line listing the known ones
    data = _load_full(name, str(resolve_data_root(root)))
    if classes is not None:
        data = _keep_classes(data, tuple(classes))
    if train_limit is not None and train_limit < len(data.train_x):
        data = Dataset(
            data.name,
            data.train_x[:train_limit],
            data.train_y[:train_limit],
            data.val_x,
            data.val_y,
            data.test_x,
            data.test_y,
            data.label_names,
        )
    return data


@lru_cache(maxsize=8)
def _load_full(name: str, root: str) -> Dataset:
    return DATASETS.get(name)(name, Path(root))


def _keep_classes(data: Dataset, classes: tuple[int, ...]) -> Dataset:
    if data.train_y.ndim != 1:
        raise ValueError(
            f"Dataset '{data.name}' has multi-label targets; `classes` cannot filter it."
        )
    keep = torch.tensor(classes)
    parts = []
    for split in ("train", "val", "test"):
        x, y = data.split(split)
        mask = torch.isin(y, keep)
        parts += [x[mask], y[mask]]
    return Dataset(data.name, *parts, label_names=data.label_names)


# --- MNIST and FashionMNIST: the IDX files, gzipped, xz-compressed or not -------------------------------------------------


class DataFileError(ValueError):
    """A dataset file is there but truncated or corrupt; the message names it and the fix."""


def _read_idx(path: Path) -> np.ndarray:
    opener = {".gz": gzip.open, ".xz": lzma.open}.get(path.suffix, open)
    fix = (
        "Replace it with an intact copy (or delete it to download it again where a network exists)."
    )
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (EOFError, gzip.BadGzipFile, lzma.LZMAError, OSError, zlib.error) as exc:
        why = (
            "truncated"
            if isinstance(exc, EOFError)
            else f"corrupt ({' '.join(str(exc).split()) or type(exc).__name__})"
        )
        raise DataFileError(f"{path} is {why}. {fix}") from None
    magic = int.from_bytes(raw[0:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    if (
        len(raw) < 4
        or magic >> 8 != 8
        or not 1 <= ndim <= 4
        or len(raw) != 4 + 4 * ndim + int(np.prod(dims))
    ):
        raise DataFileError(
            f"{path} is not an intact IDX file (magic {magic:#x}, {len(raw)} bytes for shape "
            f"{dims}). {fix}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _find_idx(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / f"{stem}.xz", folder / stem):
        if candidate.exists():
            return candidate
    return None


def _load_mnist_like(name: str, root: Path) -> Dataset:
    folder_name = {"mnist": "MNIST", "fashionmnist": "FashionMNIST"}[name]
    paths = [_find_idx(root / folder_name / "raw", stem) for stem in MNIST_FILES]
    if any(p is None for p in paths):
        paths = _download_mnist_like(folder_name, root)
    arrays = [_read_idx(p) for p in paths]
    to_x = lambda a: torch.from_numpy(a.astype(np.float32) / 255.0).unsqueeze(1)
    to_y = lambda a: torch.from_numpy(a.astype(np.int64))
    return _split_validation(
        name, to_x(arrays[0]), to_y(arrays[1]), to_x(arrays[2]), to_y(arrays[3])
    )


def _download_mnist_like(folder_name: str, root: Path) -> list[Path]:
    """torchvision's download into the cache (never into the data root); a clear error without network."""
    import torchvision

    target = cache_dir() / "downloads"
    try:
        getattr(torchvision.datasets, folder_name)(str(target), train=True, download=True)
        getattr(torchvision.datasets, folder_name)(str(target), train=False, download=True)
    except Exception as exc:  # no network, mirror down, ...
        raise DataNotFoundError(
            f"{folder_name} files not found under {root / folder_name / 'raw'} and the download failed "
            f"({type(exc).__name__}). Put {', '.join(s + '.gz' for s in MNIST_FILES)} there, "
            f"pass --data-root or set LAEBENCH_DATA."
        ) from None
    return [_find_idx(target / folder_name / "raw", stem) for stem in MNIST_FILES]


# --- CelebA: official layout or the 10k subset ---------------------------------------------------------------


def _load_celeba(name: str, root: Path) -> Dataset:
    folder = root / "celeba"
    attr_file = folder / "list_attr_celeba.txt"
    image_dir = folder / "img_align_celeba"
    if not attr_file.exists() or not image_dir.is_dir():
        raise DataNotFoundError(
            f"CelebA not found under {folder}: need list_attr_celeba.txt and img_align_celeba/*.jpg "
            f"(torchvision's layout). Download it from the CelebA site (Google Drive quota makes automatic "
            f"download unreliable), pass --data-root or set LAEBENCH_DATA."
        )
    digest = hashlib.sha1(f"{folder.resolve()}:{attr_file.stat().st_mtime}".encode()).hexdigest()[
        :12
    ]
    cached = cache_dir() / f"celeba64-{digest}.pt"
    blob = None
    if cached.exists():
        try:
            blob = load_checkpoint(cached)
        except (
            CheckpointError
        ) as exc:  # a damaged or planted cache file is decoded again, never executed
            print(f"[data] decoding CelebA again: {exc}", flush=True)
    if blob is None:
        blob = _decode_celeba(folder, attr_file, image_dir)
        torch.save(blob, cached.with_suffix(".tmp"))
        os.replace(cached.with_suffix(".tmp"), cached)
    x, y, names, partition = blob["x"], blob["y"], blob["names"], blob["partition"]
    if partition is not None and (partition == 2).any():
        train = partition != 2
        return _split_validation(name, x[train], y[train], x[~train], y[~train], names)
    # The subset holds only official training images: hold out a test split with a fixed seed.
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(VALIDATION_SEED + 1))
    n_test = len(x) // 10
    test, train = perm[:n_test].sort().values, perm[n_test:].sort().values
    return _split_validation(name, x[train], y[train], x[test], y[test], names)


def _decode_celeba(folder: Path, attr_file: Path, image_dir: Path) -> dict:
    from PIL import Image

    lines = attr_file.read_text().splitlines()
    names = lines[1].split()
    files, labels = [], []
    for line in lines[2:]:
        parts = line.split()
        if parts and (image_dir / parts[0]).exists():
            files.append(parts[0])
            labels.append([int(v) > 0 for v in parts[1:]])
    images = np.empty((len(files), 3, 64, 64), dtype=np.uint8)
    for i, fname in enumerate(files):
        with Image.open(image_dir / fname) as img:
            w, h = img.size
            crop = round(148 * w / 178)  # the usual 148x148 crop at full resolution, scaled
            left, top = (w - crop) // 2, (h - crop) // 2
            img = (
                img.convert("RGB")
                .crop((left, top, left + crop, top + crop))
                .resize((64, 64), Image.BILINEAR)
            )
            images[i] = np.asarray(img).transpose(2, 0, 1)
    partition = None
    part_file = folder / "list_eval_partition.txt"
    if part_file.exists():
        split_of = dict(line.split() for line in part_file.read_text().splitlines() if line.strip())
        partition = torch.tensor([int(split_of[f]) for f in files])
    return {
        "x": torch.from_numpy(images).float() / 255.0,
        "y": torch.tensor(labels, dtype=torch.int64),
        "names": names,
        "partition": partition,
    }


# --- Offline sets: sklearn digits and a generated set for unit tests -----------------------------------------


def _load_digits(name: str, root: Path) -> Dataset:
    from harness.digits_cache import digits_arrays

    images, target = digits_arrays(cache_dir())
    x = torch.from_numpy(images.astype(np.float32) / 16.0).unsqueeze(1)
    y = torch.from_numpy(target.astype(np.int64))
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(VALIDATION_SEED + 1))
    n_test = len(x) // 4
    test, train = perm[:n_test].sort().values, perm[n_test:].sort().values
    return _split_validation(name, x[train], y[train], x[test], y[test])


def _load_synthetic(name: str, root: Path) -> Dataset:
    return synthetic()


for _name, _loader in (
    ("mnist", _load_mnist_like),
    ("fashionmnist", _load_mnist_like),
    ("celeba", _load_celeba),
    ("digits", _load_digits),
    ("synthetic", _load_synthetic),
):
    register_dataset(_name)(functools.partial(_loader))
