"""The oracle-selection ablation's keep sets: the ground-truth foreground units."""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

from ..utils import check_unit_grid


class OracleKeepSets:
    """Keep every unit whose ground-truth foreground fraction (from the samples'
    ``gt_fg_mask``) is at least ``min_fraction``, in both training passes and at inference
    (the upper bound of the selection ablation). The selector is trained on these labels.

    Args:
        min_fraction: foreground fraction a unit needs to be kept.
        unit_size: u, patches per unit side (the head's).
    """

    def __init__(self, min_fraction: float, unit_size: int):
        self.min_fraction, self.unit_size = float(min_fraction), unit_size

    def keep(self, data_samples: Optional[List[DataSample]], grid: Tuple[int, int],
             device: torch.device) -> torch.Tensor:
        """[B, U] bool keep set from the samples' ground-truth masks (``gt_fg_mask`` [H, W]):
        units with a foreground fraction of at least ``min_fraction``, and always the unit
        with the most foreground."""
        masks = [None if s is None else s.get('gt_fg_mask') for s in (data_samples or [None])]
        if any(m is None for m in masks):
            raise ValueError("selection='oracle' needs a ground-truth mask 'gt_fg_mask' on "
                             "every sample: add dict(type='LoadForegroundMask') to the train "
                             "and test pipelines and 'gt_fg_mask' to PackInputs.algorithm_keys")
        masks = torch.stack([torch.as_tensor(m) for m in masks]).to(device, torch.float32)
        units = check_unit_grid(grid, self.unit_size)
        # block means: equal to PatchSelectionMetric's unit fractions when H, W divide evenly
        fraction = F.adaptive_avg_pool2d(masks.unsqueeze(1), units).flatten(1)  # [B, U]
        keep = fraction >= self.min_fraction
        return keep | (fraction == fraction.amax(dim=1, keepdim=True))

    def source(self, backbone, neck, patches: torch.Tensor, grid: Tuple[int, int],
               data_samples: Optional[List[DataSample]]
               ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Encode the full image [B, h*w, C] (no attention maps needed) -> ([B, 1 + h*w, C]
        tokens, [B, U] keep)."""
        keep = self.keep(data_samples, grid, patches.device)
        tokens, _ = backbone.encode(patches, grid)
        return tokens, keep

    def target(self, units: torch.Tensor, keep_src: torch.Tensor, k: int,
               pooling: str) -> torch.Tensor:
        """The target pass pools over the source pass's (ground-truth) keep set."""
        return keep_src

    def inference(self, neck, logits: torch.Tensor, grid: Tuple[int, int],
                  data_samples: Optional[List[DataSample]]) -> torch.Tensor:
        """[B, U] keep set from the samples' masks (the selector's logits are not used)."""
        return self.keep(data_samples, grid, logits.device)
