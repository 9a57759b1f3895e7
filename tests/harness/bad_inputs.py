"""Shared by the bad-input tables (`test_bad_inputs.py`, `grid/test_bad_grids.py`): every kind of bad input a user can give exits 2 with one `error: ...` line and no traceback.

Each case is (id, grid text or None, extra files, CLI arguments, environment, a phrase the line must hold).
`{tmp}` in arguments is the test's folder; `{grid}` the grid file. Grids run with `--dry-run`, so nothing is
trained; the cases that need Ray (a GPU request, a reachable address) use the session's shared instance.
"""

from __future__ import annotations

import gzip
import os
import socket
import textwrap

import pytest

from harness.cli import main

EXP = (
    "{name: e, task: reconstruction, data: {train: synthetic}, model: {arch: mlp, latent_dim: 2, hidden: [8]}, "
    "methods: {ae: {}}}"
)


def grid(top: str = "", exp: str = EXP) -> str:
    """A valid tiny grid with `top` lines added, and its one experiment replaced by `exp`."""
    return f"name: bad\n{top}\nexperiments:\n  - {exp}\n"


def exp(**parts) -> str:
    base = {
        "name": "e",
        "task": "reconstruction",
        "data": "{train: synthetic}",
        "model": "{arch: mlp, latent_dim: 2, hidden: [8]}",
        "methods": "{ae: {}}",
    }
    base.update(parts)
    return "{" + ", ".join(f"{k}: {v}" for k, v in base.items() if v is not None) + "}"


DRY = ["run", "--grid", "{grid}", "--results", "{tmp}/res", "--dry-run"]

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"b{i}: &b{i} [{', '.join(['*' + ('a' if i == 1 else f'b{i - 1}')] * 12)}]\n"
    for i in range(1, 10)
)
TRUNCATED_GZ = {
    f"data/MNIST/raw/{stem}.gz": gzip.compress(b"\x00" * 4000)[:30]
    for stem in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    )
}
RECORD = (
    '{"trial_id": "e/ae/seed0", "experiment": "e", "task": "reconstruction", "label": "ae", "seed": 0, '
    '"status": "ok", "metrics": [], "dataset": "d", "arch": "mlp", "method_key": "ae", "method_params": {}, '
    '"task_params": {}}'
)
NEEDS_RAY = {"gpu_without_gpus"}
GPU_CASE = (
    "gpu_without_gpus",
    grid("resources: {cpu: 1, gpu: 1}"),
    {},
    ["run", "--grid", "{grid}", "--results", "{tmp}/res", "--address", "{ray}"],
    {},
    "asks for gpu: 1 per trial but the Ray cluster has 0 GPU(s)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check(case, tmp_path, monkeypatch, capsys, request) -> None:
    """Run one bad-input case: exit 2, one `error:` line holding its phrase, no traceback, under 2 KB."""
    name, text, files, args, env, needle = case
    if name == "results_not_writable":
        if os.geteuid() == 0:
            pytest.skip("root may write anywhere")
        (tmp_path / "locked").mkdir(mode=0o500)
    ray = request.getfixturevalue("ray_address") if name in NEEDS_RAY else ""
    (tmp_path / "empty").mkdir()
    (tmp_path / "loop").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop")
    for rel, content in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            (tmp_path / rel).write_bytes(content)
        else:
            (tmp_path / rel).write_text(content)
    grid_path = tmp_path / "grid.yaml"
    if isinstance(text, bytes):
        grid_path.write_bytes(text)
    elif text is not None:
        grid_path.write_text(textwrap.dedent(text))
    port = _free_port()
    for key, value in env.items():
        monkeypatch.setenv(key, value.format(tmp=tmp_path, free_port=port))
    monkeypatch.chdir(tmp_path)
    argv = [a.format(tmp=tmp_path, grid=grid_path, ray=ray, free_port=port) for a in args]
    needle = needle.format(tmp=tmp_path)
    capsys.readouterr()  # drop what setting up fixtures printed (Ray's start-up line)
    code = main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (code, err)
    assert "Traceback" not in err, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert needle in lines[0], lines[0]
    assert len(err) < 2048, len(err)  # one short line, whatever the input held
    if name in ("results_is_a_file", "results_under_a_file", "gpu_without_gpus"):
        assert not (tmp_path / "res").exists()  # nothing written before the error
