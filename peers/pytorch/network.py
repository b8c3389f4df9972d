"""The project's plain and residual MLPs in PyTorch, built from an exported run configuration.

Definitions (the README's "Network definitions"; width w, depth D, phi the activation, N the
normalisation):
  stem:      h0 = phi(W0 x + b0)
  plain:     h_l = phi(N_l(W_l h_{l-1} + b_l)), l = 1..D;  logits = W_out h_D + b_out
  residual:  K = D / block_layers pre-activation blocks; two layers:
               u = W phi(N(h_{k-1})) + b;  v = W' phi(N'(u)) + b';  h_k = h_{k-1} + alpha_k v
             logits = W_out phi(h_K) + b_out
  alpha: one (1), inv_sqrt_blocks (1/sqrt K), rezero (a learnable scalar per block, 0 at start)

Parameter names are those of the exported tensor layout (`stem.weight`, `layers.3.linear.bias`,
`blocks.0.branch.1.norm.weight`, `blocks.5.alpha`, `head.bias`), so an export loads by name.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

NORM_EPS = 1e-5
BATCH_NORM_MOMENTUM = 0.1

ACTIVATIONS = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    # The exact (erf) form, as the project's `gelu` and PyTorch's default.
    "gelu": F.gelu,
    "identity": lambda x: x,
}


def make_norm(kind, width):
    """PyTorch's own layers: BatchNorm normalises with the biased batch variance in training
    mode and keeps running statistics with the unbiased one (momentum 0.1), as the project does."""
    if kind == "none":
        return nn.Identity()
    if kind == "layer":
        return nn.LayerNorm(width, eps=NORM_EPS)
    if kind == "batch":
        return nn.BatchNorm1d(width, eps=NORM_EPS, momentum=BATCH_NORM_MOMENTUM)
    raise ValueError(f"unknown norm `{kind}`")


class PlainLayer(nn.Module):
    def __init__(self, width, norm):
        super().__init__()
        self.linear = nn.Linear(width, width)
        self.norm = make_norm(norm, width)


class BranchLayer(nn.Module):
    def __init__(self, width, norm):
        super().__init__()
        self.norm = make_norm(norm, width)
        self.linear = nn.Linear(width, width)


class Block(nn.Module):
    def __init__(self, width, norm, layers, scale, blocks):
        super().__init__()
        self.branch = nn.ModuleList([BranchLayer(width, norm) for _ in range(layers)])
        if scale == "rezero":
            self.alpha = nn.Parameter(torch.zeros(()))
        elif scale == "one":
            self.alpha = 1.0
        elif scale == "inv_sqrt_blocks":
            self.alpha = 1.0 / math.sqrt(blocks)
        else:
            raise ValueError(f"unknown residual_scale `{scale}`")


class Net(nn.Module):
    """A plain or residual MLP; `forward` can also return the hidden states h_0..h_K and the
    residual branches' outputs v_k for the probes."""

    def __init__(self, model):
        super().__init__()
        self.arch = model["arch"]
        self.act = ACTIVATIONS[model["activation"]]
        width, depth = model["width"], model["depth"]
        self.stem = nn.Linear(model["input_dim"], width)
        if self.arch == "plain":
            self.layers = nn.ModuleList([PlainLayer(width, model["norm"]) for _ in range(depth)])
        elif self.arch == "residual":
            per_block = model["block_layers"]
            blocks = depth // per_block
            self.blocks = nn.ModuleList(
                [Block(width, model["norm"], per_block, model["residual_scale"], blocks) for _ in range(blocks)]
            )
        else:
            raise ValueError(f"unknown arch `{self.arch}`")
        self.head = nn.Linear(width, model["output_dim"])

    def forward(self, x, keep=None):
        """Logits; if `keep` is a dict it receives `states` [h_0..h_K] and `branches` [alpha_k v_k]."""
        act = self.act
        h = act(self.stem(x))
        states, branches = [h], []
        if self.arch == "plain":
            for layer in self.layers:
                h = act(layer.norm(layer.linear(h)))
                states.append(h)
            logits = self.head(h)
        else:
            for block in self.blocks:
                v = h
                for stage in block.branch:
                    v = stage.linear(act(stage.norm(v)))
                branch = block.alpha * v
                h = h + branch
                states.append(h)
                branches.append(branch)
            logits = self.head(act(h))
        if keep is not None:
            keep["states"], keep["branches"] = states, branches
        return logits

    def hidden_linears(self):
        """The D hidden w x w layers, input side first."""
        if self.arch == "plain":
            return [layer.linear for layer in self.layers]
        return [stage.linear for block in self.blocks for stage in block.branch]

    def linears_into_batch_norm(self):
        """Names of the linear layers whose output feeds a BatchNorm directly: their bias has no
        effect on the loss (the batch mean removes it), so its gradient is zero up to rounding."""
        names = []
        if self.arch == "plain":
            for l, layer in enumerate(self.layers):
                if isinstance(layer.norm, nn.BatchNorm1d):
                    names.append(f"layers.{l}.linear")
        else:
            for k, block in enumerate(self.blocks):
                for s in range(len(block.branch) - 1):
                    if isinstance(block.branch[s + 1].norm, nn.BatchNorm1d):
                        names.append(f"blocks.{k}.branch.{s}.linear")
        return names


def initialise(net, init, generator):
    """The canonical initialisation, drawn from `generator`: weights N(0, 2/fan_in) (he) or
    N(0, 2/(fan_in + fan_out)) (xavier), biases 0, norm gains 1 and shifts 0, ReZero alpha 0."""
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.Linear):
                fan_out, fan_in = module.weight.shape
                var = 2.0 / fan_in if init == "he" else 2.0 / (fan_in + fan_out)
                noise = torch.randn(module.weight.shape, generator=generator, dtype=torch.float64)
                module.weight.copy_(noise * math.sqrt(var))
                module.bias.zero_()
            elif isinstance(module, (nn.LayerNorm, nn.BatchNorm1d)):
                module.weight.fill_(1.0)
                module.bias.zero_()
            elif isinstance(module, Block) and isinstance(module.alpha, nn.Parameter):
                module.alpha.zero_()


def make_optimizer(params, optimizer):
    """Adam (betas 0.9, 0.999, eps 1e-8) or SGD with momentum; weight decay as L2 added to the
    gradient, which is what PyTorch's Adam and SGD do with `weight_decay`."""
    kind, lr, decay = optimizer["kind"], optimizer["lr"], optimizer.get("weight_decay", 0.0)
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=decay)
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=optimizer.get("momentum", 0.0), weight_decay=decay)
    raise ValueError(f"unknown optimizer `{kind}`")


def loss_fn(logits, targets):
    """Mean cross-entropy for classes (int64 targets), mean squared error for values."""
    if targets.dtype == torch.int64:
        return F.cross_entropy(logits, targets)
    return F.mse_loss(logits, targets)
