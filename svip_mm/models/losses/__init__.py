from .consistency_loss import SVIPConsistencyLoss
from .decorrelation_loss import AttributeDecorrelationLoss
from .selector_loss import SVIPSelectorLoss

__all__ = ['AttributeDecorrelationLoss', 'SVIPConsistencyLoss', 'SVIPSelectorLoss']
