"""The ResNet paper's CIFAR nets (He et al. 2015, Sec. 4.2) in PyTorch, as src/model/conv/
builds them; conv_timing.py times them and parity.py checks ours against them.

A 3x3 conv with `base` filters, BN, ReLU; three stages of n blocks with base, 2 base and 4 base
filters, the first conv of stages 2 and 3 with stride 2; block = conv-BN-ReLU-conv-BN,
+ shortcut, ReLU (post-activation); option-A shortcut where the shape changes (every other
pixel in each direction, new channels zero-padded half on each side); plain = the same net
without the shortcut addition; global average pool; a 4 base -> classes linear layer.
Kaiming-normal conv and linear weights, no conv biases. Depth 6n + 2.

BatchNorm2d as the project's (src/model/conv/batch_norm2d.rs): in training it normalises with
the biased batch variance, eps 1e-5, and keeps running statistics with momentum 0.1 and the
unbiased variance, which is what PyTorch's layer does with these settings.

Parameter names are those of the export's conv layout (`conv.weight`, `bn.bias`,
`blocks.4.conv1.weight`, `blocks.4.bn2.running_var`, `fc.weight`), so an export loads by name.

`initialise` draws the same distributions from a given generator instead of the global one, so
that a peer run (peer_run.py) is reproducible from its seed.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

NORM_EPS = 1e-5
BATCH_NORM_MOMENTUM = 0.1


def batch_norm(channels):
    return nn.BatchNorm2d(channels, eps=NORM_EPS, momentum=BATCH_NORM_MOMENTUM)


class OptionA(nn.Module):
    """The parameter-free shortcut where the shape changes: every other pixel, and the new
    channels zero-padded half on each side."""

    def __init__(self, c_in, c_out):
        super().__init__()
        self.pad = (c_out - c_in) // 2

    def forward(self, x):
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))


class Block(nn.Module):
    """relu(BN2(conv2(relu(BN1(conv1(x))))) [+ shortcut(x)])."""

    def __init__(self, c_in, c_out, stride, residual):
        super().__init__()
        self.residual = residual
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = batch_norm(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1, bias=False)
        self.bn2 = batch_norm(c_out)
        self.shortcut = OptionA(c_in, c_out) if stride != 1 or c_in != c_out else nn.Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + self.shortcut(x)
        return F.relu(out)


class CifarNet(nn.Module):
    """`arch` "plain" or "residual", n blocks per stage, on images of `in_channels`."""

    def __init__(self, arch, n, in_channels=1, classes=10, base=16):
        super().__init__()
        if arch not in ("plain", "residual"):
            raise ValueError(f"unknown arch `{arch}`")
        self.conv = nn.Conv2d(in_channels, base, 3, stride=1, padding=1, bias=False)
        self.bn = batch_norm(base)
        blocks, c_in = [], base
        for stage in range(3):
            c_out = base << stage
            for index in range(n):
                stride = 2 if stage > 0 and index == 0 else 1
                blocks.append(Block(c_in, c_out, stride, arch == "residual"))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(c_in, classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x, keep=None):
        """Logits; if `keep` is a dict it receives `states`, the hidden states h_0..h_K (the
        stem's output, then each block's, after its ReLU), and `branches`, empty: the probes
        measure no branch ratios for conv nets, as src/model/conv/ measures none."""
        h = F.relu(self.bn(self.conv(x)))
        states = [h]
        for block in self.blocks:
            h = block(h)
            states.append(h)
        if keep is not None:
            keep["states"], keep["branches"] = states, []
        return self.fc(h.mean(dim=(2, 3)))

    def hidden_convs(self):
        """The 6n convs inside the blocks, input side first: the layers the probes report."""
        return [conv for block in self.blocks for conv in (block.conv1, block.conv2)]

    def linears_into_batch_norm(self):
        """None: every conv feeds a BatchNorm, and no conv has a bias (parity.py asks the MLP
        the same question)."""
        return []


def initialise(net, generator):
    """He initialisation drawn from `generator`: conv weights N(0, 2/(9 C_in)), the classifier's
    N(0, 2/fan_in) (what kaiming_normal_ draws in its default fan-in mode), drawn in f64; BN
    gains 1 and shifts 0, classifier bias 0; running statistics reset (mean 0, variance 1)."""
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                noise = torch.randn(module.weight.shape, generator=generator, dtype=torch.float64)
                module.weight.copy_(noise * math.sqrt(2.0 / fan_in))
            elif isinstance(module, nn.BatchNorm2d):
                module.reset_parameters()
        net.fc.bias.zero_()


def from_config(model, image_shape):
    """The net an exported conv run describes: its model configuration (depth 6n + 2, width =
    base filters, output_dim = classes) on images of `image_shape` (C, H, W)."""
    depth = model["depth"]
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"depth {depth} is not 6n + 2 with n >= 1")
    return CifarNet(model["arch"], (depth - 2) // 6, in_channels=image_shape[0], classes=model["output_dim"],
                    base=model["width"])
