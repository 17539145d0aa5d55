"""Unit grouping against an explicit index computation."""
import pytest
import torch

from svip_mm.models.utils import (check_unit_grid, patch_scores_to_unit_scores, patches_to_units,
                                  topk_mask, unit_mask_to_patch_mask, units_to_patches)


@pytest.mark.parametrize('grid,u', [((14, 14), 2), ((8, 8), 2), ((4, 6), 2), ((6, 6), 3),
                                    ((4, 4), 1)])
def test_units_match_explicit_indices(grid, u):
    h, w = grid
    c = 3
    patches = torch.randn(2, h * w, c)
    units = patches_to_units(patches, grid, u)
    assert units.shape == (2, (h // u) * (w // u), u * u * c)
    for i in range(h // u):
        for j in range(w // u):
            unit = i * (w // u) + j
            for a in range(u):
                for b in range(u):
                    patch = (u * i + a) * w + (u * j + b)
                    offset = (a * u + b) * c
                    assert torch.equal(units[:, unit, offset:offset + c], patches[:, patch])
    assert torch.equal(units_to_patches(units, grid, u), patches)


def test_vit_b_unit_zero_holds_the_top_left_2x2_block():
    patches = torch.arange(196, dtype=torch.float32).view(1, 196, 1)
    units = patches_to_units(patches, (14, 14), 2)
    assert units[0, 0].tolist() == [0, 1, 14, 15]
    assert units[0, 48].tolist() == [180, 181, 194, 195]


def test_official_raster_grouping_differs_from_blocks():
    scores = torch.arange(196, dtype=torch.float32).view(1, 196)
    block = patch_scores_to_unit_scores(scores, (14, 14), 2, 'block')
    raster = patch_scores_to_unit_scores(scores, (14, 14), 2, 'official_raster')
    assert block[0, 0].item() == pytest.approx((0 + 1 + 14 + 15) / 4)
    # the released code averages 4 consecutive raster positions: 12, 13 (row 0), 14, 15 (row 1)
    assert raster[0, 3].item() == pytest.approx((12 + 13 + 14 + 15) / 4)
    assert not torch.equal(block, raster)


def test_grid_not_divisible_is_an_error():
    with pytest.raises(ValueError, match=r'7x7.*unit_size=2'):
        check_unit_grid((7, 7), 2)
    with pytest.raises(ValueError, match='not divisible'):
        patches_to_units(torch.zeros(1, 49, 4), (7, 7), 2)


def test_topk_mask_and_patch_mask():
    scores = torch.tensor([[0.1, 0.9, 0.5, 0.7]])
    assert topk_mask(scores, 2).tolist() == [[False, True, False, True]]
    assert topk_mask(scores, 1, largest=False).tolist() == [[True, False, False, False]]
    patch_mask = unit_mask_to_patch_mask(torch.tensor([[True, False, False, True]]), (4, 4), 2)
    assert patch_mask.view(4, 4).tolist() == [[True, True, False, False],
                                              [True, True, False, False],
                                              [False, False, True, True],
                                              [False, False, True, True]]
