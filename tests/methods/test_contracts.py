"""The contract checks (`methods.testing.check_method`, `tasks.testing.check_task`) on every built-in class, and on
broken classes, so each check is seen to fail when its rule is broken. Synthetic 1x8x8 data, tiny nets, 1 epoch."""

from __future__ import annotations

import pytest
import torch

import methods
import tasks
from methods.base import Samples
from tasks.base import Task
from tasks.testing import check_method_in_tasks, check_task

BUILTIN_METHODS = ["ae", "ae_likelihood", "vae", "mc_ae", "ensemble", "lae_posthoc", "lae_online"]
BUILTIN_TASKS = ["reconstruction", "imputation", "knn", "ood", "hessian_quality", "hessian_scaling"]


def test_every_builtin_is_listed():
    assert set(BUILTIN_METHODS) <= set(methods.names()) and set(BUILTIN_TASKS) <= set(tasks.names())


@pytest.mark.parametrize("name", BUILTIN_METHODS)
def test_builtin_method_passes_check_method(name, data):
    check_method_in_tasks(methods.get(name), data)


@pytest.mark.parametrize("name", BUILTIN_TASKS)
def test_builtin_task_passes_check_task(name, data):
    check_task(tasks.get(name), data)


AE = methods.get("ae")


class FalselyStochastic(AE):
    stochastic = True


class ForgetsItsShift(AE):
    """Learns a shift in fit but does not store it in the checkpoint."""

    shift = 0.0

    def _fit(self, data, dependencies, reporter, checkpoint_path):
        super()._fit(data, dependencies, reporter, checkpoint_path)
        self.shift = 0.5

    def _sample(self, x, n):
        s = super()._sample(x, n)
        return Samples(s.latents + self.shift, s.recon + self.shift, s.variance)


class UnseededFit(AE):
    """Draws its shift from an unseeded generator in fit (and keeps it in the checkpoint)."""

    shift = 0.0

    def _fit(self, data, dependencies, reporter, checkpoint_path):
        super()._fit(data, dependencies, reporter, checkpoint_path)
        self.shift = float(torch.rand((), generator=torch.Generator().manual_seed(torch.seed())))

    def extra_state(self):
        return {"shift": self.shift}

    def load_extra_state(self, state):
        self.shift = state["shift"]

    def _sample(self, x, n):
        s = super()._sample(x, n)
        return Samples(s.latents, s.recon + self.shift, s.variance)


class WrongLatents(AE):
    def _sample(self, x, n):
        s = super()._sample(x, n)
        return Samples(s.latents[..., :1], s.recon, s.variance)


@pytest.mark.parametrize(
    "cls, message",
    [
        (FalselyStochastic, "stochastic = True, but its 3 samples are identical"),
        (ForgetsItsShift, "checkpoint round trip"),
        (UnseededFit, "fitting one spec .* twice gives different models"),
        (WrongLatents, r"latents must be \[n, B, latent_dim\]"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else "",
)
def test_check_method_names_the_broken_rule(cls, message, data):
    with methods.registered("broken_contract_test", cls):
        with pytest.raises(AssertionError, match=message):
            check_method_in_tasks(cls, data)
    with pytest.raises(AssertionError, match="not registered"):
        check_method_in_tasks(cls, data)


class NoDirection(Task):
    default_params = {"offset": 0.0}

    def evaluate(self, ctx):
        return [
            {"metric": "mean_pixel", "value": float(ctx.data.test_x.mean()) + self.params["offset"]}
        ]


class Unreproducible(NoDirection):
    directions = {"mean_pixel": "max"}

    def evaluate(self, ctx):
        return [{"metric": "mean_pixel", "value": float(torch.rand(()))}]


class BadRows(NoDirection):
    def evaluate(self, ctx):
        return [{"metric": "mean_pixel", "value": "0.5"}]


@pytest.mark.parametrize(
    "cls, message",
    [
        (NoDirection, r"metrics without a direction .*\['mean_pixel'\]"),
        (Unreproducible, "two evaluations with one seed differ"),
        (BadRows, "needs a real 'value'"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else "",
)
def test_check_task_names_the_broken_rule(cls, message, data):
    with tasks.registered("broken_task_test", cls):
        with pytest.raises(AssertionError, match=message):
            check_task(cls, data)
