"""Kelley's DeOldify ([Ke19], github.com/dana-kelley/DeOldify, 2018-19) in plain PyTorch.

The fork is fastai 0.7 code: its notebooks colourise with ``Colorizer34(nf_factor=2)``, i.e.
``fasterai.generators.Unet34``, a U-Net on a ResNet-34 body cut as fastai 0.7 cuts it
(``model_meta[resnet34] = [8, 6]``: conv1, bn1, relu, maxpool, layer1..layer4), with
spectral-normalised decoder convolutions, self-attention after the third decoder block and a
Tanh output in [-1, 1]. It shares no key with Antic's fastai v1 generators
(:mod:`fr_eval.colourisers.deoldify_net`); this module rebuilds its module tree (``rn``,
``up1``..``up5``, ``out``; 339 tensors, 80,681,860 parameters, about 308 MiB) so that its
``colorize_gen_192.h5`` (a PyTorch state dict despite the extension) loads with ``strict=True``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .deoldify_net import SpectralNormConv, resnet_body

NF_FACTOR = 2  # Colorizer34's default and the published weights'


class ConvBlock(nn.Module):
    """fasterai's ``ConvBlock``: conv (spectral-normalised here, with a bias), then optional ReLU
    and BatchNorm, in a ``seq``; padding ``ks // 2``."""

    def __init__(self, ni: int, no: int, ks: int = 3, actn: bool = True, bn: bool = True):
        super().__init__()
        conv = nn.Conv2d(ni, no, ks, padding=ks // 2, bias=True)
        nn.init.kaiming_normal_(conv.weight)
        layers = [SpectralNormConv(conv)]
        if actn:
            layers.append(nn.ReLU(inplace=True))
        if bn:
            layers.append(nn.BatchNorm2d(no))
        self.seq = nn.Sequential(*layers)

    def forward(self, x):
        return self.seq(x)


class UpSampleBlock(nn.Module):
    """x2 per step: a 3x3 ``ConvBlock`` to ``nf * 4`` channels (conv + BatchNorm, no ReLU),
    pixel shuffle, BatchNorm; no blur (fastai 0.7 had none)."""

    def __init__(self, ni: int, nf: int, scale: int = 2):
        super().__init__()
        layers = []
        for _ in range(scale.bit_length() - 1):
            layers += [nn.Sequential(ConvBlock(ni, nf * 4, ks=3, actn=False)), nn.PixelShuffle(2),
                       nn.BatchNorm2d(nf)]
            ni = nf
        self.sequence = nn.Sequential(*layers)

    def forward(self, x):
        return self.sequence(x)


class SelfAttention(nn.Module):
    """fasterai's SAGAN attention: spectral 1x1 Conv1d query/key/value with biases, a scalar
    ``gamma``; softmax over the keys' axis (dim 1 of query^T key)."""

    def __init__(self, n: int):
        super().__init__()
        self.query, self.key, self.value = (SpectralNormConv(nn.Conv1d(n, c, 1)) for c in (n // 8, n // 8, n))
        self.gamma = nn.Parameter(torch.tensor(0.0))

    def forward(self, x):
        shape = x.shape
        flat = x.view(shape[0], shape[1], -1)
        attn = F.softmax(torch.bmm(self.query(flat).permute(0, 2, 1), self.key(flat)), 1)
        return self.gamma * torch.bmm(self.value(flat), attn).view(*shape) + x


class UnetBlock(nn.Module):
    """Upsample the deeper map to ``n_out / 2`` channels, a 1x1 conv of the skip to ``n_out / 2``,
    concatenate, ReLU, then BatchNorm (and attention) in ``out``."""

    def __init__(self, up_in: int, x_in: int, n_out: int, self_attention: bool = False):
        super().__init__()
        half = n_out // 2
        self.x_conv = ConvBlock(x_in, half, ks=1, actn=False, bn=False)
        self.tr_conv = UpSampleBlock(up_in, half, 2)
        self.relu = nn.ReLU(inplace=True)
        self.out = nn.Sequential(nn.BatchNorm2d(n_out), *([SelfAttention(n_out)] if self_attention else []))

    def forward(self, up, skip):
        return self.out(self.relu(torch.cat([self.tr_conv(up), self.x_conv(skip)], dim=1)))


class KelleyUnet34(nn.Module):
    """``fasterai.generators.Unet34(nf_factor=2)`` with its key layout."""

    def __init__(self, nf_factor: int = NF_FACTOR):
        super().__init__()
        f = nf_factor
        self.rn = resnet_body(34)
        self.relu = nn.ReLU()
        self.up1 = UnetBlock(512, 256, 512 * f)
        self.up2 = UnetBlock(512 * f, 128, 512 * f)
        self.up3 = UnetBlock(512 * f, 64, 512 * f, self_attention=True)
        self.up4 = UnetBlock(512 * f, 64, 256 * f)
        self.up5 = UpSampleBlock(256 * f, 32 * f, 2)
        self.out = nn.Sequential(ConvBlock(32 * f, 3, ks=3, actn=False, bn=False), nn.Tanh())

    def forward(self, x):
        rn = self.rn
        enc0 = rn[2](rn[1](rn[0](x)))  # conv1, bn1, relu: /2
        enc1 = rn[4](rn[3](enc0))  # maxpool, layer1: /4
        enc2 = rn[5](enc1)  # /8
        enc3 = rn[6](enc2)  # /16
        x = self.relu(rn[7](enc3))  # /32
        pad = [0, 0]
        for up, skip in ((self.up1, enc3), (self.up2, enc2), (self.up3, enc1), (self.up4, enc0)):
            x = up(x, _pad_to_double(skip, x, pad))
        x = self.out(self.up5(x))
        # the fork removes the sum of every level's padding from the full-size output ("a bit
        # too much", its comment says): kept, as its outputs are what the paper's row measured
        return x[:, :, :x.shape[2] - pad[0], :x.shape[3] - pad[1]]


def _pad_to_double(skip, x, pad: list):
    """Reflect-pad ``skip`` at the bottom and right to twice ``x``'s size where it is smaller (a
    ResNet halves odd sizes upwards); the padding is added up in ``pad`` (h, w)."""
    dh = max(0, 2 * x.shape[2] - skip.shape[2])
    dw = max(0, 2 * x.shape[3] - skip.shape[3])
    if dh or dw:
        pad[0] += dh
        pad[1] += dw
        skip = F.pad(skip, (0, dw, 0, dh), mode="reflect")
    return skip
