"""Mask transforms: the mask follows a recorded flip; oracle masking of background units."""
import mmcv
import numpy as np
import pytest
import torch
from mmpretrain.registry import TRANSFORMS

import svip_mm  # noqa: F401


def _write_mask(tmp_path, mask: np.ndarray) -> str:
    path = str(tmp_path / 'mask.png')
    mmcv.imwrite((mask * 255).astype(np.uint8), path)
    return path


def test_mask_follows_the_flip_that_random_flip_recorded(tmp_path):
    mask = np.zeros((8, 8), dtype=np.uint8)
    mask[:, :2] = 1  # the two left columns
    img = np.zeros((8, 8, 3), dtype=np.uint8)
    img[:, :2] = 255
    path = _write_mask(tmp_path, mask)
    pipeline = [TRANSFORMS.build(dict(type='RandomFlip', prob=1.0, direction='horizontal')),
                TRANSFORMS.build(dict(type='LoadForegroundMask'))]
    results = dict(img=img, fg_mask_path=path)
    for t in pipeline:
        results = t(results)
    assert results['img'][0, -1, 0] == 255  # the image went right ...
    assert results['gt_fg_mask'][:, -2:].all() and not results['gt_fg_mask'][:, :-2].any()
    # without a flip the mask stays as stored
    plain = TRANSFORMS.build(dict(type='LoadForegroundMask'))(dict(img=img, fg_mask_path=path))
    assert plain['gt_fg_mask'][:, :2].all() and not plain['gt_fg_mask'][:, 2:].any()


def test_mask_background_units_fills_exactly_the_background_units():
    img = np.full((8, 8, 3), 7, dtype=np.uint8)
    mask = torch.zeros(8, 8, dtype=torch.bool)
    mask[0:2, 0:2] = True    # unit (0, 0): fraction 4/16 -> kept
    mask[4, 4] = True        # unit (1, 1): fraction 1/16 -> filled
    t = TRANSFORMS.build(dict(type='MaskBackgroundUnits', grid=2, min_fraction=0.1,
                              fill=(1, 2, 3)))
    out = t(dict(img=img, gt_fg_mask=mask))['img']
    assert (out[:4, :4] == 7).all()
    assert (out[:4, 4:] == [1, 2, 3]).all() and (out[4:, :4] == [1, 2, 3]).all()
    assert (out[4:, 4:] == [1, 2, 3]).all()
    assert (img == 7).all()  # the input is not modified in place


def test_mask_background_units_keeps_the_best_unit_of_an_almost_empty_mask():
    img = np.zeros((8, 8, 3), dtype=np.uint8)
    mask = torch.zeros(8, 8, dtype=torch.bool)
    mask[6, 1] = True  # unit (1, 0), fraction 1/16, below the threshold
    out = TRANSFORMS.build(dict(type='MaskBackgroundUnits', grid=2, fill=(9, 9, 9)))(
        dict(img=img, gt_fg_mask=mask))['img']
    assert (out[4:, :4] == 0).all() and (out[:4] == 9).all() and (out[4:, 4:] == 9).all()


def test_mask_background_units_bad_input():
    t = TRANSFORMS.build(dict(type='MaskBackgroundUnits', grid=3))
    with pytest.raises(KeyError, match="no 'gt_fg_mask'.*LoadForegroundMask"):
        t(dict(img=np.zeros((9, 9, 3), np.uint8)))
    with pytest.raises(ValueError, match='multiples of grid=3'):
        t(dict(img=np.zeros((8, 8, 3), np.uint8), gt_fg_mask=torch.zeros(8, 8, dtype=torch.bool)))
    with pytest.raises(ValueError, match='min_fraction'):
        TRANSFORMS.build(dict(type='MaskBackgroundUnits', min_fraction=0))
