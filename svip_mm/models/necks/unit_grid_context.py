"""Spatial context for the patch selector: residual 3x3 convolutions over the unit grid.

Beyond the paper. The paper's selector scores each unit of input patch embeddings on its own (an
MLP per unit), so a unit of background clutter that looks like a piece of the object cannot be
told apart from it; the attention rollout it learns from has seen the whole image. With this
block each unit's vector first gains its neighbours' content (``num_layers`` 3x3 convolutions:
a (2 * num_layers + 1)-unit square), then the selector MLP scores it.

Every convolution is zero-initialised, so at initialisation the block is the identity and the
selector is exactly the paper's; the context is learned from there.
"""
from typing import Tuple

import torch
import torch.nn as nn


class UnitGridContext(nn.Module):
    """``num_layers`` residual blocks ``x + conv3x3(GELU(x))`` over the [uh, uw] unit grid.

    Args:
        channels: D, the unit vector width (u*u*C).
        num_layers: number of residual 3x3 blocks (>= 1).
    """

    def __init__(self, channels: int, num_layers: int):
        super().__init__()
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f'num_layers must be an integer >= 1, got {num_layers!r}')
        self.convs = nn.ModuleList(
            nn.Conv2d(channels, channels, kernel_size=3, padding=1) for _ in range(num_layers))
        for conv in self.convs:
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)
        self.act = nn.GELU()

    def forward(self, units: torch.Tensor, unit_grid: Tuple[int, int]) -> torch.Tensor:
        """[B, uh*uw, D] units in raster order -> [B, uh*uw, D] units with their context."""
        b, n, d = units.shape
        uh, uw = unit_grid
        if n != uh * uw:
            raise ValueError(f'expected {uh * uw} units for a {uh}x{uw} unit grid, got {n}')
        x = units.transpose(1, 2).reshape(b, d, uh, uw)
        for conv in self.convs:
            x = x + conv(self.act(x))
        return x.reshape(b, d, n).transpose(1, 2)
