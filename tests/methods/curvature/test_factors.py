"""The forms of M (factors.py) on the exact paths: the lazy `Scaled` factor (a diagonal M pushed exactly through a
Linear layer, with and without activations after it), the QR compression of a `Factor`, and the reduction to a
diagonal all run on the test nets, and each result is exact."""

from __future__ import annotations

from methods.curvature import diag_ggn
from tests.methods.curvature.nets import NETS, make
from tests.methods.curvature.reference import HUGE, brute_force, dense_algorithm1, rel_err


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
