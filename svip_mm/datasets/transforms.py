"""Pipeline transforms of svip_mm (registered in ``mmpretrain.registry.TRANSFORMS``).

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

__all__ = ['LoadForegroundMask']


@TRANSFORMS.register_module()
class LoadForegroundMask(BaseTransform):
    """Load a foreground mask image into ``results[key]`` as a torch bool tensor ``[H, W]``.

    The mask file is a single-channel image (the synthetic data writes 'L' PNGs with 0 for
    background and 255 for the object); a pixel is foreground when its value is at least
    ``threshold``.

    Place it right after ``LoadImageFromFile``: it checks that the mask has the image's size
    (``results['img']``). Later steps of the pipeline do not transform the mask. That is
    right for resizing the whole image (the metric averages the mask over the unit grid at the
    mask's own resolution), wrong for crops and flips, which the test pipelines do not use.

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
        results[self.key] = torch.from_numpy(np.ascontiguousarray(mask >= self.threshold))
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(key={self.key!r}, path_key={self.path_key!r}, '
                f'threshold={self.threshold})')
