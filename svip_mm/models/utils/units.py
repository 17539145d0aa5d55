"""Semantic units: square blocks of ``u x u`` neighbouring patches (docs/method.md, section 1).

For a patch grid of ``H x W`` and unit size ``u``, unit ``(i, j)`` holds the patches
``(u*i + a, u*j + b)`` for ``a, b`` in ``0..u-1``; a unit vector concatenates them in the
order ``(a, b, channel)``, so it has ``u*u*C`` values. Units are numbered in raster order
over the ``(H/u) x (W/u)`` unit grid.
"""
from typing import Tuple

import torch


def check_unit_grid(grid_hw: Tuple[int, int], unit_size: int) -> Tuple[int, int]:
    """Return the unit grid ``(H/u, W/u)``; raise if the patch grid is not divisible."""
    h, w = int(grid_hw[0]), int(grid_hw[1])
    if unit_size < 1:
        raise ValueError(f'unit_size must be >= 1, got {unit_size}')
    if h % unit_size or w % unit_size:
        raise ValueError(
            f'patch grid {h}x{w} is not divisible by unit_size={unit_size}; '
            f'expected both grid sides to be multiples of {unit_size}')
    return h // unit_size, w // unit_size


def patches_to_units(patches: torch.Tensor, grid_hw: Tuple[int, int],
                     unit_size: int) -> torch.Tensor:
    """Group patch tokens into units.

    Args:
        patches: [B, H*W, C] patch tokens in raster order (no CLS token).
        grid_hw: the patch grid (H, W).
        unit_size: u.

    Returns:
        [B, (H/u)*(W/u), u*u*C] unit vectors, layout (a, b, channel).
    """
    uh, uw = check_unit_grid(grid_hw, unit_size)
    b, n, c = patches.shape
    if n != uh * uw * unit_size**2:
        raise ValueError(f'expected {grid_hw[0] * grid_hw[1]} patch tokens for grid '
                         f'{tuple(grid_hw)}, got {n}')
    u = unit_size
    x = patches.reshape(b, uh, u, uw, u, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, uh * uw, u * u * c)


def units_to_patches(units: torch.Tensor, grid_hw: Tuple[int, int],
                     unit_size: int) -> torch.Tensor:
    """Inverse of :func:`patches_to_units`: [B, U, u*u*C] -> [B, H*W, C]."""
    uh, uw = check_unit_grid(grid_hw, unit_size)
    b, _, d = units.shape
    u = unit_size
    c = d // (u * u)
    x = units.reshape(b, uh, uw, u, u, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, uh * u * uw * u, c)


def patch_scores_to_unit_scores(scores: torch.Tensor, grid_hw: Tuple[int, int],
                                unit_size: int, grouping: str = 'block') -> torch.Tensor:
    """Average per-patch scores within each unit.

    Args:
        scores: [B, H*W] per-patch scores in raster order.
        grouping: ``'block'`` (correct u x u blocks) or ``'official_raster'``, which
            reproduces the released SVIP code: it averages runs of u*u consecutive
            raster positions, which mixes patches of different rows and columns.

    Returns:
        [B, U] per-unit scores.
    """
    b = scores.shape[0]
    if grouping == 'block':
        return patches_to_units(scores.unsqueeze(-1), grid_hw, unit_size).mean(-1)
    if grouping == 'official_raster':
        uh, uw = check_unit_grid(grid_hw, unit_size)
        return scores.reshape(b, uh * uw, unit_size * unit_size).mean(-1)
    raise ValueError(f"grouping must be 'block' or 'official_raster', got {grouping!r}")


def unit_mask_to_patch_mask(unit_mask: torch.Tensor, grid_hw: Tuple[int, int],
                            unit_size: int) -> torch.Tensor:
    """Expand a per-unit mask [B, U] to a per-patch mask [B, H*W] (raster order)."""
    b, nu = unit_mask.shape
    expanded = unit_mask.unsqueeze(-1).expand(b, nu, unit_size * unit_size)
    return units_to_patches(expanded, grid_hw, unit_size).squeeze(-1)


def topk_mask(scores: torch.Tensor, k: int, largest: bool = True) -> torch.Tensor:
    """Boolean mask [B, U] marking the k highest (or lowest) scores of each row."""
    idx = scores.topk(k, dim=-1, largest=largest).indices
    mask = torch.zeros_like(scores, dtype=torch.bool)
    return mask.scatter_(-1, idx, True)
