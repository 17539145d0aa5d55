"""TransZero's self-calibration term: probability mass on the unseen classes (docs/transzero.md).

TRANSDUCTIVE USE OF UNSEEN CLASS ATTRIBUTES: the term reads the class scores of the unseen
classes, i.e. their attribute vectors, during training. A config without it is the
inductive row of a comparison.
"""
import torch
import torch.nn as nn
from mmpretrain.registry import MODELS


@MODELS.register_module()
class SelfCalibrationLoss(nn.Module):
    """``-loss_weight * log( (1/B) sum_b sum_{u in unseen} softmax(s_b)_u )``.

    s [B, C] are class logits over ALL classes (TransZero passes them with its calibration
    bias added: +bias on unseen, -bias on seen classes). The mean over the batch is taken
    inside the logarithm, as in the released code (``model.py``,
    ``compute_loss_Self_Calibrate`` of ``shiming-chen/TransZero``), not outside.

    Computed in log space: with ``r_b = logsumexp_{u in unseen} s_bu - logsumexp_c s_bc``
    (the log unseen mass of image b), the loss is ``-(logsumexp_b r_b - log B)``, so a
    vanishing unseen mass gives a large finite loss instead of ``log(0)``.

    Transductive use of unseen class attributes: the logits of the unseen classes come from
    their attribute vectors, which a strictly inductive zero-shot learner does not see in
    training.

    Args:
        loss_weight: lambda (published: CUB 0.3, AwA2 2, SUN 0.25).
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, logits: torch.Tensor, unseen_mask: torch.Tensor) -> torch.Tensor:
        """
        Args:
            logits: [B, C] class logits over all classes (global class order).
            unseen_mask: [C] bool, True for the unseen classes.

        Returns:
            scalar loss.
        """
        if logits.ndim != 2 or unseen_mask.shape != logits.shape[1:]:
            raise ValueError(f'self-calibration needs logits [B, C] and unseen_mask [C], got '
                             f'{tuple(logits.shape)} and {tuple(unseen_mask.shape)}')
        logits = logits.float()
        log_all = torch.logsumexp(logits, dim=1)  # [B]
        log_unseen = torch.logsumexp(logits.masked_fill(~unseen_mask, float('-inf')), dim=1)
        log_mass = log_unseen - log_all  # [B], log of each image's unseen mass
        log_mean = torch.logsumexp(log_mass, dim=0) - torch.log(
            torch.tensor(float(logits.size(0)), device=logits.device))
        return -self.loss_weight * log_mean
