from .units import (check_unit_grid, patch_scores_to_unit_scores, patches_to_units,
                    topk_mask, unit_mask_to_patch_mask, units_to_patches)

__all__ = ['check_unit_grid', 'patch_scores_to_unit_scores', 'patches_to_units', 'topk_mask',
           'unit_mask_to_patch_mask', 'units_to_patches']
