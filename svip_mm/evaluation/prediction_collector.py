"""Every predicted sample of a test run, kept as numpy arrays and Python scalars.

:class:`PredictionCollector` is an MMEngine metric that reports nothing: appended to a
Runner's ``test_evaluator.metrics`` (or named in a config's ``test_evaluator`` as
``dict(type='PredictionCollector')``), it keeps the fields of each predicted ``DataSample``
(:data:`PRED_FIELDS`, and ``img_path``) so that a tool can write them (``tools/test.py --out
F.pkl``) or compute something of its own from them (``tools/calibrate.py``).
"""
from typing import Dict, List

import numpy as np
from mmengine.evaluator import BaseMetric
from mmpretrain.registry import METRICS

# fields copied from each predicted sample (when present)
PRED_FIELDS = ('gt_label', 'is_unseen', 'pred_score', 'pred_label', 'pred_attributes',
               'keep_mask', 'selector_prob', 'attention_unit_scores')
SCALAR_FIELDS = ('gt_label', 'pred_label', 'is_unseen')


@METRICS.register_module()
class PredictionCollector(BaseMetric):
    """Keeps every predicted sample's fields (:data:`PRED_FIELDS`, ``img_path``) as numpy
    arrays / Python scalars; reports no metric. After the test, ``collected`` holds the list
    (on rank 0) in dataset order."""
    default_prefix = ''

    def __init__(self) -> None:
        super().__init__(collect_device='cpu')
        self.collected: List[dict] = []

    def process(self, data_batch, data_samples) -> None:
        for sample in data_samples:
            record = {}
            if 'img_path' in sample:
                record['img_path'] = sample['img_path']
            for key in PRED_FIELDS:
                if key in sample:
                    record[key] = to_plain(sample[key], scalar=key in SCALAR_FIELDS)
            self.results.append(record)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        self.collected = list(results)
        return {}


def to_plain(value, scalar: bool = False):
    """Tensors -> numpy (float32 for floating point); with ``scalar`` a one-element value
    becomes a Python int / bool."""
    if hasattr(value, 'detach'):
        value = value.detach().cpu()
        value = (value.float() if value.is_floating_point() else value).numpy()
    if scalar and np.size(value) == 1:
        return np.asarray(value).reshape(-1)[0].item()
    return value
