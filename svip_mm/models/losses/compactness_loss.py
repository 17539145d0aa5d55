"""Compactness of attribute maps around their peaks (APN; docs/apn.md)."""
from typing import Tuple

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

from ..utils.choices import check_choice


@MODELS.register_module()
class AttributeCompactnessLoss(nn.Module):
    """Penalises each attribute map's mass by its squared grid distance from the map's peak.

    Attribute maps M [B, N, K] over an h x w grid in raster order (position n = i * w + j).
    For image b and attribute k the peak is (i*, j*) = argmax_n M[b, n, k] (no gradient flows
    through the argmax); with f = ``activation`` and w = ``loss_weight``:

    .. math::

        L = w \\sum_{b} \\sum_{k} \\sum_{(i, j)} f(M_{b, (i, j), k})
            \\left[(i - i^*_{bk})^2 + (j - j^*_{bk})^2\\right]

    summed over the batch with ``reduction='sum'`` (the released APN code, ``Loss_fn`` in
    ``model/main_utils.py`` of ``wenjiaXu/APN-ZSL``), divided by B with ``'mean'``. The
    released code uses f = sigmoid (``activation='sigmoid'``); the paper writes the map itself
    (``activation='none'``).

    Args:
        loss_weight: w.
        activation: ``'sigmoid'`` (released) or ``'none'`` (paper).
        reduction: ``'sum'`` (released) or ``'mean'`` over images.
    """

    def __init__(self, loss_weight: float = 1.0, activation: str = 'sigmoid',
                 reduction: str = 'sum'):
        super().__init__()
        check_choice('activation', activation, ('sigmoid', 'none'))
        check_choice('reduction', reduction, ('sum', 'mean'))
        self.loss_weight, self.activation, self.reduction = loss_weight, activation, reduction

    def forward(self, maps: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
        """
        Args:
            maps: [B, N, K] attribute maps, N = h * w in raster order.
            grid: (h, w).

        Returns:
            scalar loss.
        """
        h, w = int(grid[0]), int(grid[1])
        if maps.ndim != 3 or maps.shape[1] != h * w:
            raise ValueError(f'maps must be [B, N, K] with N = h * w = {h * w} for grid '
                             f'{(h, w)}, got shape {tuple(maps.shape)}')
        maps = maps.float()
        rows = torch.arange(h, device=maps.device).repeat_interleave(w).to(maps.dtype)  # [N]
        cols = torch.arange(w, device=maps.device).repeat(h).to(maps.dtype)  # [N]
        peak = maps.detach().argmax(dim=1)  # [B, K]
        # squared distance of every position from each map's peak: [B, N, K]
        dist = (rows[None, :, None] - rows[peak][:, None, :]).pow(2) \
            + (cols[None, :, None] - cols[peak][:, None, :]).pow(2)
        mass = maps.sigmoid() if self.activation == 'sigmoid' else maps
        total = (mass * dist).sum()
        if self.reduction == 'mean':
            total = total / maps.shape[0]
        return self.loss_weight * total
