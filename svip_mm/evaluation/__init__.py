"""svip_mm.evaluation: zero-shot metrics.

- :class:`GZSLMetric` (registered in ``mmpretrain.registry.METRICS``): ZSL top-1 and GZSL U / S / H
  with calibrated stacking, plus the labelled oracle and official blocks.
- :mod:`.zsl_accuracy`: the same numbers from plain numpy arrays (notebooks, tests, calibration).
- :class:`PatchSelectionMetric` (registered): the selector's AUROC for background units and the
  precision of the kept set, against ground-truth foreground masks; its pure functions
  (:func:`patch_selection_scores`, :func:`binary_auroc`, ...) work on numpy arrays.
- :class:`AttributeGroupMetric` (registered): per-attribute-group accuracy (argmax within each
  group of alternatives) of the predicted attribute vector, on test-unseen and test-seen images.
- :class:`PredictionCollector`: keeps every predicted sample of a test run (``tools/test.py
  --out F.pkl``, calibration).
- :mod:`.calibration`: the calibration gamma chosen without the test set
  (:func:`holdout_split`, :func:`calibrate_gamma`, :func:`gamma_option`).
- :mod:`.comparison`: methods compared over seeds (:func:`paired_difference`,
  :func:`inside_seed_spread`, :func:`format_methods_rows`, :func:`format_paired_difference`).
- :mod:`.test_table`: the table ``tools/test.py`` prints (:func:`format_test_table`).
"""
from .attribute_group_metric import AttributeGroupMetric
from .calibration import calibrate_gamma, gamma_option, holdout_split
from .comparison import (format_methods_rows, format_paired_difference, inside_seed_spread,
                         paired_difference)
from .gzsl_metric import GZSLMetric
from .patch_selection_metric import (PatchSelectionMetric, binary_auroc, kept_precision,
                                     patch_selection_scores, per_image_auroc, topk_keep,
                                     unit_foreground_fraction)
from .prediction_collector import PredictionCollector
from .test_table import format_test_table
from .zsl_accuracy import (BLOCKS, OFFICIAL_GAMMAS, best_gamma, calibrated_predict,
                           check_class_split, check_zsl_inputs, evaluate_zsl, gzsl_accuracy,
                           gzsl_sweep, harmonic_mean, per_class_accuracy, per_sample_accuracy,
                           zsl_top1)

__all__ = [
    'GZSLMetric', 'BLOCKS', 'OFFICIAL_GAMMAS', 'best_gamma', 'calibrated_predict',
    'check_class_split', 'check_zsl_inputs', 'evaluate_zsl', 'gzsl_accuracy', 'gzsl_sweep',
    'harmonic_mean', 'per_class_accuracy', 'per_sample_accuracy', 'zsl_top1',
    'PatchSelectionMetric', 'binary_auroc', 'kept_precision', 'patch_selection_scores',
    'per_image_auroc', 'topk_keep', 'unit_foreground_fraction', 'AttributeGroupMetric',
    'PredictionCollector', 'calibrate_gamma', 'gamma_option', 'holdout_split', 'format_test_table',
    'paired_difference', 'inside_seed_spread', 'format_methods_rows', 'format_paired_difference'
]
