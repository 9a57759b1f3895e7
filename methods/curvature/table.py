"""The rule table and the model walk: which rule handles each layer (BackPACK's module type -> extension map).

`SUPPORTED_LAYERS` maps `type(module)` to its rule and nothing more: every decision about a layer lives on its
rule (base.py). `check_supported(model)` flattens nested `nn.Sequential`s and validates every leaf before any
computation; `record_activations(model)` records every leaf's output of one forward pass for reuse by
`diag_ggn`.
"""

from __future__ import annotations

from torch import Tensor, nn

from .activations import ACTIVATION_RULES
from .base import Rule
from .conv import Conv2dRule, ConvTranspose2dRule
from .linear import LinearRule
from .pooling import AvgPool2dRule, MaxPool2dRule, UpsampleNearestRule
from .reshape import RESHAPE_RULES

SUPPORTED_LAYERS: dict[type[nn.Module], Rule] = {
    nn.Linear: LinearRule(),
    nn.Conv2d: Conv2dRule(),
    nn.ConvTranspose2d: ConvTranspose2dRule(),
    nn.MaxPool2d: MaxPool2dRule(),
    nn.AvgPool2d: AvgPool2dRule(),
    nn.Upsample: UpsampleNearestRule(),
    nn.UpsamplingNearest2d: UpsampleNearestRule(),
    **ACTIVATION_RULES,
    **RESHAPE_RULES,
}


def _is_plain_sequential(module: nn.Module) -> bool:
    return isinstance(module, nn.Sequential) and type(module).forward is nn.Sequential.forward


def check_supported(model: nn.Module) -> list[tuple[str, nn.Module, Rule]]:
    """Flatten `model` into its leaf layers and check each has a rule.

    Returns:
        `[(path, module, rule), ...]` in forward order.
    Raises:
        NotImplementedError: a layer (or container with a custom forward) has no rule, a rule does not
            support the layer's configuration, or a module/parameter is used twice.
        ValueError: a Dropout layer is in training mode with p > 0.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module. Got {type(model).__name__}.")
    layers: list[tuple[str, nn.Module, Rule]] = []

    def walk(module: nn.Module, path: str) -> None:
        if _is_plain_sequential(module):
            for (
                name,
                child,
            ) in module._modules.items():  # named_children() would hide a repeated layer
                walk(child, f"{path}.{name}" if path else name)
            return
        shown = path or "<model>"
        rule = SUPPORTED_LAYERS.get(type(module))
        if rule is None:
            supported = ", ".join(sorted({t.__name__ for t in SUPPORTED_LAYERS} | {"Sequential"}))
            raise NotImplementedError(
                f"No Hessian rule for module '{shown}' ({type(module).__name__}). "
                f"Supported: {supported}. Add a rule in methods/curvature/."
            )
        rule.check(module, shown)
        layers.append((shown, module, rule))

    walk(model, "")
    seen_modules, seen_params = {}, {}
    for path, module, _ in layers:
        if id(module) in seen_modules:
            raise NotImplementedError(
                f"Module '{path}' is the same object as '{seen_modules[id(module)]}': "
                "shared layers are not supported (their GGN diagonal has cross terms)."
            )
        seen_modules[id(module)] = path
        for p in module.parameters():
            if id(p) in seen_params:
                raise NotImplementedError(
                    f"A parameter of '{path}' is shared with '{seen_params[id(p)]}': "
                    "tied weights are not supported."
                )
            seen_params[id(p)] = path
    return layers


class record_activations:
    """Context manager that records every leaf layer's output during one forward pass of `model`.

    `with record_activations(net) as rec: loss = loss_fn(net(x))` (any call that runs the same modules,
    e.g. `torch.func.functional_call` with other weights), then `diag_ggn(net_with_those_weights, x,
    activations=rec)` skips its own forward. The outputs are detached views of the forward's tensors (no
    copy). Layers with `inplace=True` are refused: they overwrite the previous layer's recorded output.
    """

    def __init__(self, model: nn.Module):
        self.layers = check_supported(model)
        for path, module, _ in self.layers:
            if getattr(module, "inplace", False):
                raise NotImplementedError(
                    f"record_activations: module '{path}' ({type(module).__name__}) is "
                    "in-place and would overwrite the recorded input. Use inplace=False "
                    "or call diag_ggn without activations."
                )
        self.outputs: list[Tensor] = []
        self.ctxs: list = []
        self._handles = []

    def _hooks(self, rule: Rule):
        def hook(module, inputs, output) -> None:
            self.ctxs.append(rule.recorded_ctx(module, output))
            self.outputs.append(output.detach())

        return hook

    def __enter__(self) -> record_activations:
        self.outputs, self.ctxs = [], []
        self._handles = [
            module.register_forward_hook(self._hooks(rule)) for _, module, rule in self.layers
        ]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
