"""DeOldify's generators in plain PyTorch, loading the official state dicts key for key.

DeOldify (Antic 2019; [An19] in the paper) builds its generators with fastai v1, which pins
old libraries and does not run on a current PyTorch. This module rebuilds the same
networks from plain ``torch.nn`` pieces, with the same module tree, so that
``ColorizeStable_gen.pth`` / ``ColorizeArtistic_gen.pth`` (and retrained files of the same
architectures) load with ``strict=True``:

* ``stable``  (and ``video``): ``DynamicUnetWide`` on a ResNet-101 body, ``nf_factor=2``;
* ``artistic``: ``DynamicUnetDeep`` on a ResNet-34 body, ``nf_factor=1.5``;

both with spectral normalisation, self-attention in the third decoder block from the
bottom, blurred pixel-shuffle upsampling, a dense skip of the input, and ``SigmoidRange(-3, 3)``.
Spectral and weight normalisation are implemented here for inference only, keeping
PyTorch's legacy parameter names (``weight_orig``/``weight_u``/``weight_v`` and
``weight_g``/``weight_v``) and its evaluation-mode arithmetic, so that the files load
whatever the installed PyTorch's normalisation APIs are.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ARCHS = {
    # name: (decoder kind, resnet depth, nf_factor)
    "stable": ("wide", 101, 2),
    "video": ("wide", 101, 2),
    "artistic": ("deep", 34, 1.5),
}


# -- normalised convolutions with the legacy parameter names ---------------------------------
class SpectralNormConv(nn.Module):
    """A convolution whose weight is ``weight_orig / sigma``, ``sigma = u . (W v)``: what
    ``torch.nn.utils.spectral_norm`` computes in evaluation mode (no power iteration)."""

    def __init__(self, conv: nn.Module):
        super().__init__()
        self.conv_type = type(conv)
        self.stride, self.padding = conv.stride, conv.padding
        self.weight_orig = nn.Parameter(conv.weight.detach().clone())
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach().clone())
        out = conv.weight.shape[0]
        flat = conv.weight.detach().reshape(out, -1)
        u = F.normalize(torch.randn(out), dim=0)
        v = F.normalize(flat.t() @ u, dim=0)
        self.register_buffer("weight_u", u)
        self.register_buffer("weight_v", v)

    def weight(self) -> torch.Tensor:
        # Under no_grad the normalised weight is kept and reused while weight_orig, weight_u and weight_v
        # are unchanged (their in-place version counters, which load_state_dict's copy_ moves on): the
        # same tensor, computed once rather than per image (written for speed: at small render factors
        # it was most of a generator's time). With gradients on it is computed afresh, as autograd needs;
        # a change made through .data, which moves no version counter, is not seen.
        w = self.weight_orig
        if torch.is_grad_enabled():
            return w / self._sigma()
        key = tuple((t._version, t.data_ptr()) for t in (w, self.weight_u, self.weight_v))
        cached = self.__dict__.get("_normalised")
        if cached is None or cached[0] != key:
            cached = (key, w / self._sigma())
            self.__dict__["_normalised"] = cached
        return cached[1]

    def _sigma(self) -> torch.Tensor:
        w = self.weight_orig
        return torch.dot(self.weight_u, w.reshape(w.shape[0], -1) @ self.weight_v)

    def forward(self, x):
        if self.conv_type is nn.Conv1d:
            return F.conv1d(x, self.weight(), self.bias, self.stride, self.padding)
        return F.conv2d(x, self.weight(), self.bias, self.stride, self.padding)


class WeightNormConv(nn.Module):
    """A convolution with ``weight = weight_g * weight_v / ||weight_v||`` (norm over all
    but the output dimension), as ``torch.nn.utils.weight_norm``."""

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        self.stride, self.padding = conv.stride, conv.padding
        w = conv.weight.detach().clone()
        self.weight_g = nn.Parameter(w.flatten(1).norm(dim=1).reshape(-1, 1, 1, 1))
        self.weight_v = nn.Parameter(w)
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach().clone())

    def forward(self, x):
        v = self.weight_v
        w = self.weight_g * v / v.flatten(1).norm(dim=1).reshape(-1, 1, 1, 1)
        return F.conv2d(x, w, self.bias, self.stride, self.padding)


def conv_block(ni: int, nf: int, ks: int = 3, *, norm: str = "spectral", use_activ: bool = True,
               extra_bn: bool = False, self_attention: bool = False) -> nn.Sequential:
    """fastai v1's ``conv_layer`` / DeOldify's ``custom_conv_layer``: conv, ReLU, BatchNorm
    (only with ``extra_bn`` here), self-attention; no bias when a BatchNorm follows."""
    conv = nn.Conv2d(ni, nf, kernel_size=ks, padding=(ks - 1) // 2, bias=not extra_bn)
    nn.init.kaiming_normal_(conv.weight)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
    layers = [SpectralNormConv(conv) if norm == "spectral" else WeightNormConv(conv)]
    if use_activ:
        layers.append(nn.ReLU(inplace=True))
    if extra_bn:
        layers.append(nn.BatchNorm2d(nf))
    if self_attention:
        layers.append(SelfAttention(nf))
    return nn.Sequential(*layers)


class SelfAttention(nn.Module):
    """fastai v1's self-attention (SAGAN, Zhang et al. 2018) with spectral-normalised 1x1 convs."""

    def __init__(self, n: int):
        super().__init__()
        self.query, self.key, self.value = (
            SpectralNormConv(nn.Conv1d(n, c, 1, bias=False)) for c in (n // 8, n // 8, n))
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        size = x.size()
        x = x.view(*size[:2], -1)
        f, g, h = self.query(x), self.key(x), self.value(x)
        beta = F.softmax(torch.bmm(f.permute(0, 2, 1).contiguous(), g), dim=1)
        return (self.gamma * torch.bmm(h, beta) + x).view(*size).contiguous()


class PixelShuffleUp(nn.Module):
    """1x1 conv to ``nf * 4`` channels, ReLU, pixel shuffle (x2), then the blur that fastai
    1.0.5x always applies (replication pad + 2x2 average, Sugawara et al. 2018)."""

    def __init__(self, ni: int, nf: int, *, norm: str = "spectral", extra_bn: bool = False):
        super().__init__()
        self.conv = conv_block(ni, nf * 4, ks=1, norm=norm, use_activ=False, extra_bn=extra_bn)
        self.shuf = nn.PixelShuffle(2)
        self.pad = nn.ReplicationPad2d((1, 0, 1, 0))
        self.blur = nn.AvgPool2d(2, stride=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.blur(self.pad(self.shuf(self.relu(self.conv(x)))))


def _merge(up, skip_bn, relu):
    return relu(torch.cat([up, skip_bn], dim=1))


def _match(up, skip):
    if skip.shape[-2:] != up.shape[-2:]:
        up = F.interpolate(up, skip.shape[-2:], mode="nearest")
    return up


class UnetBlockWide(nn.Module):
    def __init__(self, up_in_c: int, x_in_c: int, n_out: int, self_attention: bool):
        super().__init__()
        up_out = n_out // 2
        self.shuf = PixelShuffleUp(up_in_c, up_out, extra_bn=True)
        self.bn = nn.BatchNorm2d(x_in_c)
        self.conv = conv_block(up_out + x_in_c, up_out, extra_bn=True, self_attention=self_attention)
        self.relu = nn.ReLU()

    def forward(self, up_in, skip):
        up = _match(self.shuf(up_in), skip)
        return self.conv(_merge(up, self.bn(skip), self.relu))


class UnetBlockDeep(nn.Module):
    def __init__(self, up_in_c: int, x_in_c: int, final_div: bool, self_attention: bool, nf_factor: float):
        super().__init__()
        self.shuf = PixelShuffleUp(up_in_c, up_in_c // 2, extra_bn=True)
        self.bn = nn.BatchNorm2d(x_in_c)
        ni = up_in_c // 2 + x_in_c
        nf = int((ni if final_div else ni // 2) * nf_factor)
        self.conv1 = conv_block(ni, nf, extra_bn=True)
        self.conv2 = conv_block(nf, nf, extra_bn=True, self_attention=self_attention)
        self.relu = nn.ReLU()
        self.out_channels = nf

    def forward(self, up_in, skip):
        up = _match(self.shuf(up_in), skip)
        return self.conv2(self.conv1(_merge(up, self.bn(skip), self.relu)))


# -- the ResNet body (torchvision's layout; ``create_body(arch, cut=-2)``) ----------------------
class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + idt)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + idt)


RESNETS = {34: (BasicBlock, [3, 4, 6, 3]), 101: (Bottleneck, [3, 4, 23, 3])}


def resnet_body(depth: int) -> nn.Sequential:
    """conv1, bn1, relu, maxpool, layer1..layer4 (torchvision's names; no pooling or fc)."""
    block, counts = RESNETS[depth]
    inplanes = 64
    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
              nn.MaxPool2d(3, 2, 1)]
    for i, (planes, n) in enumerate(zip([64, 128, 256, 512], counts)):
        stride = 1 if i == 0 else 2
        down = None
        if stride != 1 or inplanes != planes * block.expansion:
            down = nn.Sequential(nn.Conv2d(inplanes, planes * block.expansion, 1, stride, bias=False),
                                 nn.BatchNorm2d(planes * block.expansion))
        blocks = [block(inplanes, planes, stride, down)]
        inplanes = planes * block.expansion
        blocks += [block(inplanes, planes) for _ in range(1, n)]
        layers.append(nn.Sequential(*blocks))
    return nn.Sequential(*layers)


#: encoder children whose outputs feed the decoder (where the resolution changes, deepest
#: first), as fastai's ``_get_sfs_idxs`` finds them for a ResNet body: relu, layer1..layer3
SKIP_IDXS = [6, 5, 4, 2]


class ResBlock(nn.Module):
    """fastai's ``res_block(nf, norm_type=Spectral)``: two spectral conv + ReLU, plus the input."""

    def __init__(self, nf: int):
        super().__init__()
        self.layers = nn.ModuleList([conv_block(nf, nf), conv_block(nf, nf), nn.Identity()])

    def forward(self, x):
        return self.layers[1](self.layers[0](x)) + x


class DeOldifyGenerator(nn.Module):
    """The generator, with fastai's ``SequentialEx`` key layout (``layers.<i>...``)."""

    def __init__(self, arch: str = "stable"):
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"DeOldify model={arch} is not known; choose from {', '.join(ARCHS)}")
        kind, depth, nf_factor = ARCHS[arch]
        self.arch = arch
        body = resnet_body(depth)
        exp = RESNETS[depth][0].expansion
        skip_ch = {2: 64, 4: 64 * exp, 5: 128 * exp, 6: 256 * exp}
        ni = 512 * exp
        middle = nn.Sequential(conv_block(ni, ni * 2, extra_bn=True), conv_block(ni * 2, ni, extra_bn=True))
        layers = [body, nn.BatchNorm2d(ni), nn.ReLU(), middle]
        x_c = ni
        nf = 512 * nf_factor
        for i, idx in enumerate(SKIP_IDXS):
            not_final = i != len(SKIP_IDXS) - 1
            sa = i == len(SKIP_IDXS) - 3
            if kind == "wide":
                n_out = nf if not_final else nf // 2
                blk = UnetBlockWide(x_c, skip_ch[idx], int(n_out), sa)
                x_c = int(n_out) // 2
            else:
                blk = UnetBlockDeep(x_c, skip_ch[idx], not_final, sa, nf_factor)
                x_c = blk.out_channels
            layers.append(blk)
        layers.append(PixelShuffleUp(x_c, x_c, norm="weight"))  # fastai's PixelShuffle_ICNR(ni)
        layers.append(nn.Identity())  # MergeLayer(dense=True): concatenates the input
        layers.append(ResBlock(x_c + 3))
        layers.append(conv_block(x_c + 3, 3, ks=1, use_activ=False))
        layers.append(nn.Identity())  # SigmoidRange(-3, 3)
        self.layers = nn.ModuleList(layers)
        self.n_blocks = len(SKIP_IDXS)

    def forward(self, x):
        inp = x
        feats = {}
        for j, child in enumerate(self.layers[0]):
            x = child(x)
            if j in SKIP_IDXS:
                feats[j] = x
        x = self.layers[3](self.layers[2](self.layers[1](x)))
        for i, idx in enumerate(SKIP_IDXS):
            x = self.layers[4 + i](x, feats[idx])
        k = 4 + self.n_blocks
        x = self.layers[k](x)
        x = torch.cat([x, inp], dim=1)
        x = self.layers[k + 2](x)
        x = self.layers[k + 3](x)
        return torch.sigmoid(x) * 6.0 - 3.0
