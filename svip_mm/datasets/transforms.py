"""Pipeline transforms of svip_mm (registered in ``mmpretrain.registry.TRANSFORMS``).

``MaskBackgroundUnits`` is the data side of "oracle selection": it blanks the units of the image
that the ground-truth mask calls background, for a plain ViT that has no selector of its own.

``LoadForegroundMask`` reads the ground-truth foreground mask that :class:`ZSLSynthetic` data
infos name in ``fg_mask_path``, so that ``PackInputs`` can put it on the ``DataSample`` for
:class:`~svip_mm.evaluation.PatchSelectionMetric`::

    test_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadForegroundMask'),
        dict(type='PackInputs', algorithm_keys=['is_unseen', 'gt_fg_mask']),
    ]

``PackInputs`` stores every algorithm key on the sample as it is (``set_field`` of a data
field), so the mask arrives on the ``DataSample`` as the torch bool tensor made here.
"""
from typing import Optional

import mmcv
import mmengine.fileio as fileio
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS

from ..evaluation.patch_selection_metric import unit_foreground_fraction

__all__ = ['LoadForegroundMask', 'MaskBackgroundUnits']


@TRANSFORMS.register_module()
class LoadForegroundMask(BaseTransform):
    """Load a foreground mask image into ``results[key]`` as a torch bool tensor ``[H, W]``.

    The mask file is a single-channel image (the synthetic data writes 'L' PNGs with 0 for
    background and 255 for the object); a pixel is foreground when its value is at least
    ``threshold``.

    Place it after ``LoadImageFromFile`` (and after ``RandomFlip`` if the pipeline flips): it
    checks that the mask has the image's size (``results['img']``) and applies a flip that
    ``RandomFlip`` recorded (``results['flip']``, ``results['flip_direction']``), so the mask
    stays aligned with a flipped image. Later steps do not transform the mask. That is right
    for resizing the whole image (masks are averaged over the unit grid at their own
    resolution), wrong for crops, which the synthetic pipelines do not use.

    Required keys: ``path_key`` (default ``fg_mask_path``); ``img`` if present is compared.
    Added keys: ``key`` (default ``gt_fg_mask``): torch.bool ``[H, W]``, True = object.

    Args:
        key: where the mask goes in the results (name it in ``PackInputs.algorithm_keys``).
        path_key: the data-info field holding the mask path.
        threshold: grey value from which a pixel counts as foreground (1..255).
        backend_args: file backend arguments, as for ``LoadImageFromFile``.
    """

    def __init__(self,
                 key: str = 'gt_fg_mask',
                 path_key: str = 'fg_mask_path',
                 threshold: int = 128,
                 backend_args: Optional[dict] = None) -> None:
        if not 1 <= int(threshold) <= 255:
            raise ValueError(f'LoadForegroundMask: threshold must be a grey value in 1..255, '
                             f'got {threshold!r}')
        self.key = key
        self.path_key = path_key
        self.threshold = int(threshold)
        self.backend_args = None if backend_args is None else dict(backend_args)

    def transform(self, results: dict) -> dict:
        path = results.get(self.path_key)
        if path is None:
            raise KeyError(
                f"LoadForegroundMask: the data info has no '{self.path_key}' field (it has "
                f'{sorted(results)}); foreground masks come with the ZSLSynthetic dataset '
                '(svip_mm.datasets), whose data infos carry fg_mask_path')
        try:
            raw = fileio.get(path, backend_args=self.backend_args)
        except FileNotFoundError:
            raise FileNotFoundError(f"LoadForegroundMask: mask file not found: {path} (from "
                                    f"'{self.path_key}')") from None
        mask = mmcv.imfrombytes(raw, flag='unchanged')
        if mask is None:
            raise ValueError(f'LoadForegroundMask: {path} is not a readable image')
        if mask.ndim != 2:
            raise ValueError(f'LoadForegroundMask: {path} has shape {mask.shape}; expected a '
                             "single-channel [H, W] mask ('L' PNG, 255 = object)")
        img = results.get('img')
        if img is not None and tuple(img.shape[:2]) != tuple(mask.shape):
            raise ValueError(
                f'LoadForegroundMask: mask {path} is {mask.shape[0]}x{mask.shape[1]} but the '
                f'image is {img.shape[0]}x{img.shape[1]}; expected the same size (place '
                'LoadForegroundMask right after LoadImageFromFile, before any resize or crop)')
        if results.get('flip') and results.get('flip_direction'):
            mask = mmcv.imflip(mask, direction=results['flip_direction'])
        results[self.key] = torch.from_numpy(np.ascontiguousarray(mask >= self.threshold))
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(key={self.key!r}, path_key={self.path_key!r}, '
                f'threshold={self.threshold})')


@TRANSFORMS.register_module()
class MaskBackgroundUnits(BaseTransform):
    """Oracle selection in the data: fill the background units of the image with one colour.

    The image is cut into a ``grid x grid`` raster of units (with 64 px, patch 8 and 2 x 2
    patches per unit: ``grid=4``, as the models' units). A unit whose ground-truth foreground
    fraction is below ``min_fraction`` (the background units of :class:`PatchSelectionMetric`)
    is filled with ``fill``; by default the ImageNet mean, which the data preprocessor turns into
    zeros. The unit with the most foreground is always kept. Use it in the training *and* the
    test pipeline: masking only in training makes the model worse, not better.

    Place it after :class:`LoadForegroundMask` (which must come after any flip).

    Required keys: ``img`` ``[H, W, 3]`` (BGR, as ``LoadImageFromFile`` gives) and ``mask_key``
    (torch.bool ``[H, W]``). Modified keys: ``img``.

    Args:
        grid: units per image side; ``H`` and ``W`` must be multiples of it.
        min_fraction: units with a smaller foreground fraction are filled.
        fill: the fill colour in the image's channel order (default: ImageNet mean in BGR).
        mask_key: where :class:`LoadForegroundMask` put the mask.
    """

    def __init__(self,
                 grid: int = 4,
                 min_fraction: float = 0.1,
                 fill=(103.53, 116.28, 123.675),
                 mask_key: str = 'gt_fg_mask') -> None:
        if not isinstance(grid, int) or grid < 1:
            raise ValueError(f'MaskBackgroundUnits: grid must be an integer >= 1, got {grid!r}')
        if not 0.0 < float(min_fraction) <= 1.0:
            raise ValueError('MaskBackgroundUnits: min_fraction must lie in (0, 1], got '
                             f'{min_fraction!r}')
        self.grid, self.min_fraction = grid, float(min_fraction)
        self.fill = np.asarray(fill, dtype=np.float64)
        self.mask_key = mask_key

    def transform(self, results: dict) -> dict:
        if self.mask_key not in results:
            raise KeyError(f"MaskBackgroundUnits: no '{self.mask_key}' in the results; put "
                           "dict(type='LoadForegroundMask') before it in the pipeline")
        img = results['img']
        mask = results[self.mask_key]
        h, w = mask.shape
        g = self.grid
        if h % g or w % g or tuple(img.shape[:2]) != (h, w):
            raise ValueError(f'MaskBackgroundUnits: image {img.shape[0]}x{img.shape[1]} and mask '
                             f'{h}x{w} must be the same size and multiples of grid={g}')
        # [g, g] foreground fraction per unit, as PatchSelectionMetric measures it
        fraction = unit_foreground_fraction(mask, g * g).reshape(g, g)
        blank = fraction < self.min_fraction
        blank.flat[np.argmax(fraction)] = False
        pixel_blank = np.repeat(np.repeat(blank, h // g, axis=0), w // g, axis=1)
        out = img.copy()
        out[pixel_blank] = np.round(self.fill)  # cast to the image's dtype on assignment
        results['img'] = out
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(grid={self.grid}, min_fraction={self.min_fraction}, '
                f'mask_key={self.mask_key!r})')
