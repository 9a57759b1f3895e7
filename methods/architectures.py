"""The paper's autoencoder architectures as plain `nn.Sequential` of standard layers.

`build_encoder(model, image_shape)` and `build_decoder(model, image_shape)` take the grid's `model:`
mapping (`arch`, `latent_dim`, optional sizes) and return Sequentials that the curvature code walks
layer by layer. Architectures (appendix A): `mlp` (3+3 tanh layers, A.1), `conv` (two conv-tanh-maxpool
blocks then three linear layers, nearest-upsampling mirror, A.2), `conv_celeba` (five 5x5 conv layers,
latent 64, A.4). `dropout > 0` puts `nn.Dropout` between all trainable layers (MC-dropout AE).
Shapes: encoder `[B, C, H, W] -> [B, K]`, decoder `[B, K] -> [B, C_out, H, W]`.
"""

from __future__ import annotations

from math import prod

from torch import nn

ARCHITECTURES = {
    "mlp": {"hidden": [512, 256]},
    "conv": {"channels": [64, 64], "hidden": [2048, 1024], "kernel_size": 3},
    "conv_celeba": {"channels": [128, 128, 128, 128, 128], "kernel_size": 5},
}


def architecture_options(model: dict) -> dict:
    """The model mapping with the architecture's defaults filled in (validated)."""
    arch = model.get("arch")
    if arch not in ARCHITECTURES:
        raise ValueError(f"Unknown architecture '{arch}'. Available: {', '.join(ARCHITECTURES)}.")
    unknown = set(model) - {"arch", "latent_dim"} - set(ARCHITECTURES[arch])
    if unknown:
        raise ValueError(
            f"Unknown option(s) {sorted(unknown)} for architecture '{arch}'. "
            f"Allowed: latent_dim, {', '.join(ARCHITECTURES[arch])}."
        )
    return {**ARCHITECTURES[arch], **model}


def _with_dropout(layers: list[nn.Module], dropout: float) -> nn.Sequential:
    """Insert dropout after every activation, i.e. between consecutive trainable layers."""
    if dropout <= 0:
        return nn.Sequential(*layers)
    out = []
    for layer in layers:
        out.append(layer)
        if isinstance(layer, nn.Tanh):
            out.append(nn.Dropout(dropout))
    return nn.Sequential(*out)


def _mlp_stack(sizes: list[int]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    return layers


def _conv_geometry(options: dict, image_shape) -> tuple[int, int, int]:
    c, h, w = image_shape
    n_pool = len(options["channels"])
    factor = 2**n_pool
    if h % factor or w % factor:
        raise ValueError(
            f"Architecture '{options['arch']}' halves the image {n_pool} times; "
            f"image side {h}x{w} must be divisible by {factor}. Pick another arch or dataset."
        )
    return options["channels"][-1], h // factor, w // factor


def build_encoder(
    model: dict, image_shape, *, latent_dim: int | None = None, dropout: float = 0.0
) -> nn.Sequential:
    opts = architecture_options(model)
    k = latent_dim or opts["latent_dim"]
    c, h, w = image_shape
    if opts["arch"] == "mlp":
        return _with_dropout([nn.Flatten(), *_mlp_stack([c * h * w, *opts["hidden"], k])], dropout)
    channels, ks = opts["channels"], opts["kernel_size"]
    layers: list[nn.Module] = []
    for cin, cout in zip([c, *channels[:-1]], channels):
        layers += [nn.Conv2d(cin, cout, ks, padding=ks // 2), nn.Tanh(), nn.MaxPool2d(2)]
    flat = prod(_conv_geometry(opts, image_shape))
    hidden = opts.get("hidden", [])
    layers += [nn.Flatten(), *_mlp_stack([flat, *hidden, k])]
    return _with_dropout(layers, dropout)


def build_decoder(
    model: dict,
    image_shape,
    *,
    latent_dim: int | None = None,
    out_channels: int | None = None,
    dropout: float = 0.0,
) -> nn.Sequential:
    opts = architecture_options(model)
    k = latent_dim or opts["latent_dim"]
    c, h, w = image_shape
    c_out = out_channels or c
    if opts["arch"] == "mlp":
        layers = [
            *_mlp_stack([k, *reversed(opts["hidden"]), c_out * h * w]),
            nn.Unflatten(1, (c_out, h, w)),
        ]
        return _with_dropout(layers, dropout)
    channels, ks = opts["channels"], opts["kernel_size"]
    geometry = _conv_geometry(opts, image_shape)
    hidden = opts.get("hidden", [])
    layers: list[nn.Module] = [
        *_mlp_stack([k, *reversed(hidden), prod(geometry)]),
        nn.Tanh(),
        nn.Unflatten(1, geometry),
    ]
    rev = list(reversed(channels))
    for i, (cin, cout) in enumerate(zip(rev, [*rev[1:], c_out])):
        layers += [
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(cin, cout, ks, padding=ks // 2),
        ]
        if i < len(rev) - 1:
            layers.append(nn.Tanh())
    return _with_dropout(layers, dropout)
