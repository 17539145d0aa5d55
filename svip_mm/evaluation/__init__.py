"""svip_mm.evaluation: zero-shot metrics.

- :class:`GZSLMetric` (registered in ``mmpretrain.registry.METRICS``): ZSL top-1 and GZSL U / S / H
  with calibrated stacking, plus the labelled oracle and official blocks.
- :mod:`.zsl_accuracy`: the same numbers from plain numpy arrays (notebooks, tests, calibration).
"""
from .gzsl_metric import GZSLMetric
from .zsl_accuracy import (BLOCKS, OFFICIAL_GAMMAS, best_gamma, calibrated_predict,
                           check_class_split, check_zsl_inputs, evaluate_zsl, gzsl_accuracy,
                           gzsl_sweep, harmonic_mean, per_class_accuracy, per_sample_accuracy,
                           zsl_top1)

__all__ = [
    'GZSLMetric', 'BLOCKS', 'OFFICIAL_GAMMAS', 'best_gamma', 'calibrated_predict',
    'check_class_split', 'check_zsl_inputs', 'evaluate_zsl', 'gzsl_accuracy', 'gzsl_sweep',
    'harmonic_mean', 'per_class_accuracy', 'per_sample_accuracy', 'zsl_top1'
]
