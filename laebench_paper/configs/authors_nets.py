"""The MC-dropout AE on the authors' released FashionMNIST conv network, a plugin of `table3-mcae-net.yaml`.

The network is `Encoder_fashionmnist_conv` and `Decoder_fashionmnist_conv` with dropout of FrederikWarburg/LaplaceAE
at 3ea2749 (`src/models/fashionmnist.py`), trained by `configs/ood_experiments/fashionmnist/conv/ae_dropout_conv.yaml`
for Table 3's MC-AE. It differs from appendix A's network, which `mc_ae` builds, in two ways: the encoder drops out
only after its two conv blocks (`mc_ae`: after every tanh, the linear layers' too), and the decoder has three convs,
each before its upsampling, with dropout after each linear layer and each upsampling (`mc_ae`: two convs, each after
its upsampling). Everything else is `mc_ae`'s: training, sampling (dropout on at test time), the grid's settings.
Only for `arch: conv` on 1x28x28 images.
"""

from torch import nn

import methods


def authors_encoder(latent_dim: int, p: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 64, 3, stride=1, padding=1),
        nn.Tanh(),
        nn.Dropout(p),
        nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3, stride=1, padding=1),
        nn.Tanh(),
        nn.Dropout(p),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(7 * 7 * 64, 2048),
        nn.Tanh(),
        nn.Linear(2048, 1024),
        nn.Tanh(),
        nn.Linear(1024, latent_dim),
    )


def authors_decoder(latent_dim: int, p: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(latent_dim, 1024),
        nn.Tanh(),
        nn.Dropout(p),
        nn.Linear(1024, 2048),
        nn.Tanh(),
        nn.Dropout(p),
        nn.Linear(2048, 7 * 7 * 64),
        nn.Tanh(),
        nn.Dropout(p),
        nn.Unflatten(1, (64, 7, 7)),
        nn.Conv2d(64, 64, 3, stride=1, padding=1),
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Dropout(p),
        nn.Tanh(),
        nn.Conv2d(64, 64, 3, stride=1, padding=1),
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Dropout(p),
        nn.Tanh(),
        nn.Conv2d(64, 1, 3, stride=1, padding=1),
    )


@methods.register("mc_ae_authors_net")
class MCAEAuthorsNet(methods.get("mc_ae")):
    """`mc_ae` on the authors' released conv network (FashionMNIST, 28x28)."""

    description = "MC-dropout AE on the authors' released FashionMNIST conv network"

    def build(self) -> None:
        arch, shape = self.spec.model.get("arch"), tuple(self.image_shape)
        if arch != "conv" or shape != (1, 28, 28):
            raise ValueError(
                f"mc_ae_authors_net builds the authors' 28x28 conv network only, not arch '{arch}' on "
                f"{'x'.join(map(str, shape))} images: use mc_ae."
            )
        k = self.spec.model["latent_dim"]
        self.encoder = authors_encoder(k, self.dropout).to(self.device)
        self.decoder = authors_decoder(k, self.dropout).to(self.device)
        self.nets = {"encoder": self.encoder, "decoder": self.decoder}
