"""Geometry shared by the figures (where patches and units lie on the displayed image) and the
few drawing helpers every figure uses (labelled colourbars, outlined cell text, unit ticks).

A ViT with patch size ``p`` on a ``h x w`` patch grid covers the top-left ``h*p x w*p`` pixels
of its input (the patch embedding drops any remainder). Units are ``u x u`` blocks of patches
numbered in raster order over the ``(h/u) x (w/u)`` unit grid, as
:func:`svip_mm.models.utils.patches_to_units` numbers them. Every figure draws in pixel
coordinates of the displayed image (x to the right, y down), so a unit ``i`` of a
``(gh, gw)`` grid covering ``(H, W)`` pixels is the box
``x0 = (i % gw) * W / gw``, ``y0 = (i // gw) * H / gh``, ``W / gw`` wide, ``H / gh`` high.
"""
import math
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from matplotlib import patheffects, ticker

__all__ = ['as_numpy', 'resolve_unit_grid', 'unit_boxes', 'unit_map', 'unit_at', 'grid_extent',
           'input_to_display', 'unit_row_col', 'add_colorbar', 'OUTLINED', 'label_unit_axes']

# white text with a black outline reads on light and dark cells alike
OUTLINED = [patheffects.withStroke(linewidth=1.6, foreground='black')]


def as_numpy(value, dtype=None) -> np.ndarray:
    """A tensor (any device / dtype) or array-like as a numpy array."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.is_floating_point():
            value = value.float()
        value = value.numpy()
    value = np.asarray(value)
    return value.astype(dtype) if dtype is not None else value


def resolve_unit_grid(num_units: int, unit_grid: Optional[Sequence[int]] = None,
                      what: str = 'unit values') -> Tuple[int, int]:
    """``(gh, gw)`` for ``num_units`` values: the given grid (checked) or the square one.

    Raises:
        ValueError: the grid does not hold ``num_units`` units, or no grid is given and
            ``num_units`` is not a square number.
    """
    if unit_grid is not None:
        gh, gw = int(unit_grid[0]), int(unit_grid[1])
        if gh * gw != num_units:
            raise ValueError(f'{what}: {num_units} values do not fill the unit grid '
                             f'{gh}x{gw}; expected {gh * gw}')
        return gh, gw
    side = int(round(math.sqrt(num_units)))
    if side * side != num_units:
        raise ValueError(f'{what}: {num_units} units is not a square number; pass unit_grid='
                         '(rows, cols)')
    return side, side


def grid_extent(image_hw: Sequence[int], covered_hw: Optional[Sequence[int]] = None
                ) -> Tuple[float, float]:
    """The ``(H, W)`` pixel area the grid covers: ``covered_hw`` or the whole image."""
    if covered_hw is None:
        return float(image_hw[0]), float(image_hw[1])
    return float(covered_hw[0]), float(covered_hw[1])


def unit_boxes(unit_grid: Sequence[int], covered_hw: Sequence[float]
               ) -> List[Tuple[float, float, float, float]]:
    """``(x0, y0, width, height)`` of each unit in raster order, in pixels."""
    gh, gw = int(unit_grid[0]), int(unit_grid[1])
    cell_h, cell_w = covered_hw[0] / gh, covered_hw[1] / gw
    return [((i % gw) * cell_w, (i // gw) * cell_h, cell_w, cell_h) for i in range(gh * gw)]


def unit_at(x: float, y: float, unit_grid: Sequence[int], covered_hw: Sequence[float]) -> int:
    """The raster index of the unit containing the pixel point ``(x, y)``."""
    gh, gw = int(unit_grid[0]), int(unit_grid[1])
    col = min(int(x / (covered_hw[1] / gw)), gw - 1)
    row = min(int(y / (covered_hw[0] / gh)), gh - 1)
    return row * gw + col


def unit_map(values, unit_grid: Sequence[int]) -> np.ndarray:
    """``[U]`` per-unit values -> ``[gh, gw]`` map (raster order)."""
    values = as_numpy(values).reshape(-1)
    gh, gw = resolve_unit_grid(values.size, unit_grid)
    return values.reshape(gh, gw)


def input_to_display(raw, bgr: bool = True) -> np.ndarray:
    """A packed pipeline input (``[3, H, W]`` tensor, uint8, as ``PackInputs`` makes it) or an
    ``[H, W, 3]`` array -> ``[H, W, 3]`` uint8 RGB for ``imshow``.

    Args:
        raw: the image before the data preprocessor.
        bgr: the channels are in BGR order (mmcv's loading order; the data preprocessor's
            ``to_rgb=True`` says so) and are flipped for display.
    """
    img = as_numpy(raw)
    if img.ndim == 3 and img.shape[0] in (1, 3) and img.shape[-1] not in (1, 3):
        img = img.transpose(1, 2, 0)
    elif img.ndim == 3 and img.shape[0] in (1, 3) and img.shape[-1] in (1, 3) and \
            isinstance(raw, torch.Tensor):
        img = img.transpose(1, 2, 0)  # packed tensors are channel-first
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or img.shape[-1] not in (1, 3):
        raise ValueError(f'expected an image [3, H, W] or [H, W, 3], got shape {img.shape}')
    if img.shape[-1] == 1:
        img = np.repeat(img, 3, axis=-1)
    elif bgr:
        img = img[..., ::-1]
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img)


def unit_row_col(index: int, unit_grid: Sequence[int]) -> Tuple[int, int]:
    """The 1-based ``(row, col)`` of unit ``index`` (raster order), counted from the top left as
    :func:`label_unit_axes` numbers the axes."""
    gw = int(unit_grid[1])
    return int(index) // gw + 1, int(index) % gw + 1


def label_unit_axes(ax, unit_grid: Sequence[int], covered_hw: Sequence[float],
                    fontsize: float = 5) -> None:
    """Number the unit rows and columns (1-based, top left) on the axes' ticks."""
    gh, gw = int(unit_grid[0]), int(unit_grid[1])
    cell_h, cell_w = covered_hw[0] / gh, covered_hw[1] / gw
    ax.set_xticks((np.arange(gw) + 0.5) * cell_w, [str(c + 1) for c in range(gw)])
    ax.set_yticks((np.arange(gh) + 0.5) * cell_h, [str(r + 1) for r in range(gh)])
    ax.tick_params(length=0, pad=1, labelsize=fontsize)


def add_colorbar(ax, mappable, label: str, fontsize: float = 6):
    """A colourbar beside ``ax`` with its scale labelled ``label``; returns the ``Colorbar``
    (also reachable as ``mappable.colorbar``)."""
    # an inset of the panel, not an axes of the figure: fig.axes keeps one entry per panel
    # (callers find panels by label there), and constrained layout still makes room for it
    cax = ax.inset_axes([1.04, 0.0, 0.05, 1.0])
    cbar = ax.figure.colorbar(mappable, cax=cax)
    # a few ticks with 3 significant digits: attention weights span e.g. 0.0142..0.0146
    cbar.locator = ticker.MaxNLocator(nbins=4)
    cbar.formatter = ticker.FormatStrFormatter('%.3g')
    cbar.update_ticks()
    cbar.set_label(label, fontsize=fontsize)
    cbar.ax.tick_params(labelsize=fontsize - 1, length=2)
    return cbar
