"""Loss of the patch selector against attention-derived unit labels (docs/method.md, section 2)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS

from ..utils.choices import check_choice


@MODELS.register_module()
class SVIPSelectorLoss(nn.Module):
    """Binary loss on the selector's "semantic-unrelated" logits.

    Modes:
        ``'bce'``: binary cross-entropy with logits (the official loss, minus its
            autocast-unsafe probability form).
        ``'balanced_bce'``: BCE with both classes weighted equally per batch, so that
            predicting "keep" everywhere (right on k of U units) is no longer a cheap optimum.
        ``'ranking'``: logistic pairwise ranking: within each image every dropped unit
            should score above every kept unit. Insensitive to the label ratio.

    Args:
        mode: one of the modes above.
        loss_weight: multiplies the loss (3 on CUB/SUN, 4 on AwA2 in the official scripts).
    """

    MODES = ('bce', 'balanced_bce', 'ranking')

    def __init__(self, mode: str = 'bce', loss_weight: float = 3.0):
        super().__init__()
        check_choice('selector loss mode', mode, self.MODES)
        self.mode = mode
        self.loss_weight = loss_weight

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """
        Args:
            logits: [B, U] "unrelated" logits.
            labels: [B, U] 1 for units to drop (unrelated), 0 for kept units.

        Returns:
            scalar weighted loss (computed in fp32).
        """
        logits, labels = logits.float(), labels.float()
        if self.mode == 'bce':
            loss = F.binary_cross_entropy_with_logits(logits, labels)
        elif self.mode == 'balanced_bce':
            pos = labels.sum().clamp(min=1.0)
            neg = (1 - labels).sum().clamp(min=1.0)
            weights = labels * (0.5 / pos) + (1 - labels) * (0.5 / neg)
            loss = (F.binary_cross_entropy_with_logits(logits, labels, reduction='none')
                    * weights).sum()
        else:
            # [B, U, U] margins logit_drop - logit_keep over (drop, keep) pairs of each image
            diff = logits.unsqueeze(2) - logits.unsqueeze(1)
            pairs = labels.unsqueeze(2) * (1 - labels).unsqueeze(1)
            loss = (F.softplus(-diff) * pairs).sum() / pairs.sum().clamp(min=1.0)
        return self.loss_weight * loss
