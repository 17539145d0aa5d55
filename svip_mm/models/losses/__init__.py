from .attribute_regression_loss import AttributeRegressionLoss
from .compactness_loss import AttributeCompactnessLoss
from .consistency_loss import SVIPConsistencyLoss
from .decorrelation_loss import AttributeDecorrelationLoss
from .prototype_decorrelation_loss import PrototypeDecorrelationLoss
from .selector_loss import SVIPSelectorLoss
from .self_calibration_loss import SelfCalibrationLoss

__all__ = ['AttributeDecorrelationLoss', 'SVIPConsistencyLoss', 'SVIPSelectorLoss',
           'AttributeCompactnessLoss', 'PrototypeDecorrelationLoss',
           'AttributeRegressionLoss', 'SelfCalibrationLoss']
