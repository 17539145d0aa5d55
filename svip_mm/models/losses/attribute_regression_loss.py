"""Attribute regression: predicted per-image attributes against the class's attribute vector."""
import torch
import torch.nn as nn
from mmpretrain.registry import MODELS


@MODELS.register_module()
class AttributeRegressionLoss(nn.Module):
    """``loss_weight * mean_{b,k} (a_bk - A_{y_b,k})^2``: the mean squared error between the
    predicted attributes a [B, K] and the attribute vectors of the images' classes A[y] [B, K],
    averaged over all B x K entries (torch's ``mse_loss`` with ``reduction='mean'``).

    The head picks the rows A[y] (with its own normalisation of the class table) and passes
    them as ``target``; this module only compares.

    Args:
        loss_weight: multiplies the loss (a method's config states its published value).
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """
        Args:
            pred: [B, K] predicted attributes.
            target: [B, K] attribute vectors of the ground-truth classes.

        Returns:
            scalar loss.
        """
        if pred.shape != target.shape:
            raise ValueError(f'attribute regression needs pred and target of one shape '
                             f'[B, K], got {tuple(pred.shape)} and {tuple(target.shape)}')
        diff = pred.float() - target.float()
        return self.loss_weight * diff.pow(2).mean()
