"""Only this package's code runs: a pickle planted in the results folder is refused by every reader, and the
Ray instance a run starts refuses clients without its token.

The payload is a checkpoint whose unpickling would call `os.system("touch MARKER")`; every test asserts the
marker never appears and that the file was named as refused."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import textwrap

import torch

from harness.store.models import ModelCache
from laebench.checkpoints import CheckpointError, load_checkpoint
from tests.conftest import ROOT, run, run_cli, specs, tiny_grid


class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def payload_bytes(marker) -> bytes:
    buffer = io.BytesIO()
    torch.save({"state": _Payload(marker), "history": []}, buffer)
    return buffer.getvalue()


def test_load_checkpoint_refuses_code_and_names_the_file(tmp_path):
    marker = tmp_path / "MARKER"
    path = tmp_path / "model.pt"
    path.write_bytes(payload_bytes(marker))
    try:
        load_checkpoint(path)
    except CheckpointError as exc:
        assert str(path) in str(exc) and "refused" in str(exc) and "posix.system" in str(exc)
    else:
        raise AssertionError("a checkpoint holding os.system was loaded")
    assert not marker.exists()
    path.write_bytes(b"not a checkpoint")
    try:
        load_checkpoint(path)
    except CheckpointError as exc:
        assert str(path) in str(exc) and "unreadable" in str(exc)
    assert load_checkpoint(_saved({"w": torch.ones(2), "epoch": 3}))["epoch"] == 3


def _saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def test_planted_model_with_matching_manifest_runs_nothing(tmp_path, capsys):
    """Whoever can write model.pt can rewrite entry.json: the checksum vouches for nothing, the loader must."""
    grid, results, marker = tiny_grid(tmp_path, seeds="[0]"), tmp_path / "res", tmp_path / "MARKER"
    code, out = run(capsys, "run", "--grid", grid, "--results", results, "--executor", "local")
    assert code == 0, out
    (spec,) = specs(grid)
    folder = ModelCache(results / "models").folder(spec)
    data = payload_bytes(marker)
    (folder / "model.pt").write_bytes(data)
    manifest = json.loads((folder / "entry.json").read_text())
    manifest.update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    (folder / "entry.json").write_text(json.dumps(manifest))

    code, out = run(capsys, "verify", results)
    assert (
        code == 1
        and f"retrain {spec.key}: model.pt was refused: it holds a reference to posix.system" in out
    )
    code, out = run(capsys, "report", results / "store")
    assert code == 0, out
    code, out = run(capsys, "run", "--grid", grid, "--results", results, "--executor", "local")
    assert code == 0, out
    assert f"retraining {spec.key}: model.pt was refused" in out and "1 to train" in out
    assert not marker.exists()
    assert run(capsys, "verify", results)[0] == 0  # retrained: a real checkpoint again


def test_planted_partial_is_refused_on_resume(tmp_path):
    """`run --resume` in its own Ray instance (as a user starts one: authentication on, no warning about it)."""
    grid, results, marker = tiny_grid(tmp_path, seeds="[0]"), tmp_path / "res", tmp_path / "MARKER"
    (spec,) = specs(grid)
    folder = ModelCache(results / "models").folder(spec)
    folder.mkdir(parents=True)
    (folder / "partial.pt").write_bytes(payload_bytes(marker))
    done = run_cli(
        "run", "--grid", grid, "--results", results, "--resume", timeout=300, unset=("RAY_",)
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    trial_logs = "".join(
        p.read_text() for p in (results / "store" / "logs").glob("*.log")
    )  # worker output
    assert "partial.pt was refused: it holds a reference to posix.system" in trial_logs
    assert not marker.exists() and (folder / "model.pt").exists()
    assert "Token authentication" not in out and "RAY_AUTH_MODE" not in out


CONNECT = textwrap.dedent("""
    import sys
    from ray._raylet import GcsClient

    try:
        GcsClient(address=sys.argv[1]).internal_kv_keys(b"", None, timeout=20)
    except Exception as exc:
        print("REFUSED", type(exc).__name__, str(exc).splitlines()[0][:200])
    else:
        print("CONNECTED")
""")


def test_ray_refuses_a_client_without_the_token(ray_address):
    """The tests' Ray, started as `harness run` starts one, requires Ray's token; with it, a client connects."""
    assert ray_address.startswith("127.0.0.1:"), (
        f"a local run must listen on loopback only, not {ray_address}"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}

    def connect(**env) -> str:
        done = run_cli_python(CONNECT, ray_address, {**base, **env})
        return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]

    assert connect(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN="0" * 64).startswith(
        "REFUSED AuthenticationError"
    )
    assert connect(RAY_AUTH_MODE="disabled").startswith("REFUSED")
    assert connect(RAY_AUTH_MODE="token") == "CONNECTED"  # Ray's own token, from ~/.ray/auth_token


def run_cli_python(code: str, arg: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code, arg], capture_output=True, text=True, timeout=120, env=env
    )


def test_no_file_disables_authentication_or_unsafe_loading():
    """Neither switch may come back: nowhere in the repository's code, tests or CI."""
    needles = (
        "weights_only=" + "False",
        "RAY_AUTH_MODE=" + "disabled",
        '"RAY_AUTH_MODE": ' + '"disabled"',
    )
    offenders = []
    for path in [*ROOT.glob("*/**/*.py"), *ROOT.glob("*.md"), ROOT / ".ci" / "run"]:
        if ".venv" in path.parts:
            continue
        text = path.read_text()
        offenders += [f"{path.relative_to(ROOT)}: {n}" for n in needles if n in text]
    assert not offenders, offenders
