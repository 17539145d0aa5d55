"""SVIP's keep sets: which units each pass keeps as they are (docs/method.md, sections 2 and 4).

:class:`SVIPClassifier` asks a keep-set rule three questions: the source pass's keep set
(which also labels the selector), the target pass's keep set for pooling, and the keep set at
inference. :class:`LearnedKeepSets` answers them as SVIP does; the oracle ablation answers
them from ground-truth masks (:mod:`.oracle_keep_sets`).
"""
from typing import List, Optional, Tuple

import torch
from mmpretrain.structures import DataSample

from ..utils import topk_mask
from ..utils.choices import check_choice


def reselect_by_prototype(units: torch.Tensor, k: int, pooling: str = 'mean') -> torch.Tensor:
    """[B, U, D] final units -> [B, U] bool mask of the k units most similar (dot product)
    to the image's prototype unit: the target pass's re-selection.

    The prototype pools the units as the head does (the released code uses its pooling
    layer): ``'mean'`` (the mean unit) or ``'max'`` (the element-wise max over units)."""
    check_choice('pooling', pooling, ('mean', 'max'))
    with torch.no_grad():
        proto = (units.mean(dim=1, keepdim=True) if pooling == 'mean' else
                 units.amax(dim=1, keepdim=True))
        sim = (units * proto).sum(-1)
        return topk_mask(sim, k, largest=True)


class LearnedKeepSets:
    """SVIP's rule: the k most attended units in the source pass, the k units nearest the
    prototype in the target pass, the selector's k least "unrelated" units at inference."""

    def source(self, backbone, neck, patches: torch.Tensor, grid: Tuple[int, int],
               data_samples: Optional[List[DataSample]]
               ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Encode the full image [B, h*w, C] -> ([B, 1 + h*w, C] tokens, [B, U] keep)."""
        tokens, maps = backbone.encode(patches, grid, return_attn=True)
        scores = neck.attention_unit_scores(maps, grid, backbone.num_heads)
        return tokens, neck.keep_from_attention(scores)

    def target(self, units: torch.Tensor, keep_src: torch.Tensor, k: int,
               pooling: str) -> torch.Tensor:
        """[B, U, D] target-pass units -> [B, U] keep set the head pools over."""
        return reselect_by_prototype(units, k, pooling)

    def inference(self, neck, logits: torch.Tensor, grid: Tuple[int, int],
                  data_samples: Optional[List[DataSample]]) -> torch.Tensor:
        """[B, U] selector logits -> [B, U] keep set."""
        return neck.keep_from_selector(logits)
