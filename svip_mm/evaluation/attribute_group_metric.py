"""AttributeGroupMetric: per-attribute-group accuracy of the predicted attribute vector.

The head predicts a ``[K]`` attribute vector per image (``pred_attributes``). The attributes
of the ZSL benchmarks come in groups of alternatives (CUB ``has_bill_shape::dagger`` /
``::hooked`` / ..., AwA2 colours, ...). For every group ``g`` with attribute indices ``I_g``:

- predicted value: ``argmax(pred_attributes[I_g])`` (among equal predicted values the first
  index of ``I_g`` wins, as ``numpy.argmax``);
- true value: the attribute(s) of ``I_g`` where the image's class vector
  ``class_attributes[gt_label, I_g]`` is largest. When several attributes share that
  maximum (a multi-valued CUB group, equal strengths, or a group that is all zeros for the
  class) every one of them is a true value, and the prediction is correct when it hits any
  of them. Such ties make a group easier; the log table says how often they occur.
- a sample is correct for ``g`` when the predicted value is a true value.

Groups with a single attribute have no alternatives (the argmax is always right) and are
skipped; the log names them. Accuracy is per sample, in percent, separately on the test-unseen
and the test-seen images (the ``is_unseen`` flag of each sample). Chance for a group is
``100 / len(I_g)`` (higher where the class's value is tied); it is logged, not reported.
"""
from collections.abc import Mapping
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmpretrain.registry import METRICS

from .sample_fields import sample_field
from .zsl_accuracy import as_numpy

__all__ = ['AttributeGroupMetric']

_OWNER = 'AttributeGroupMetric'
_META_HINT = ('ZSLXlsa17Dataset (CUB / AwA2 / SUN) and ZSLSynthetic put it in their metainfo; '
              'evaluate on one of them or give it to the metric')
_FIELD_HINTS = {
    'pred_attributes': 'SemanticAttributeHead.predict sets it on every predicted sample',
    'gt_label': 'the dataset sets it (0-based global class id)',
    'is_unseen': "ZSLXlsa17Dataset / ZSLSynthetic set it; keep it in PackInputs' meta_keys",
}


def _field(sample: Any, key: str, default_key: str) -> Any:
    hint = _FIELD_HINTS.get(default_key, 'the model or dataset must set it')
    return sample_field(sample, key, _OWNER, hint)


def _class_table(value: Any, source: str) -> np.ndarray:
    """``class_attributes`` as a checked float64 ``[C, K]`` array."""
    if hasattr(value, 'is_floating_point') and value.is_floating_point():
        value = value.detach().float()  # bf16 / fp16 have no numpy dtype
    try:
        att = as_numpy(value).astype(np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f'{_OWNER}: {source} is not a numeric [C, K] table: {err}') from None
    if att.ndim != 2 or att.shape[0] == 0 or att.shape[1] == 0:
        raise ValueError(f'{_OWNER}: {source} has shape {tuple(att.shape)}, expected [C, K] '
                         '(one attribute vector per class)')
    if not np.all(np.isfinite(att)):
        raise ValueError(f'{_OWNER}: {source} contains NaN or infinite values')
    return att


def _groups(value: Any, num_attributes: int, source: str,
            names: Optional[Sequence[str]]) -> List[Tuple[str, np.ndarray]]:
    """``attribute_groups`` (``[[name, [indices]], ...]`` or ``{name: [indices]}``) as
    ``[(name, int64 indices), ...]``, checked against ``num_attributes``."""
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, (str, bytes)) or not hasattr(value, '__iter__'):
        pairs = None
    else:
        pairs = list(value)
    if pairs is None:
        raise ValueError(f'{_OWNER}: {source} must be a list of [group_name, [attribute '
                         f'indices]] (or a dict {{name: [indices]}}), got {value!r:.200}')
    out: List[Tuple[str, np.ndarray]] = []
    for pair in pairs:
        if isinstance(pair, (str, bytes)) or not hasattr(pair, '__len__') or len(pair) != 2:
            raise ValueError(f'{_OWNER}: {source} entry {pair!r:.100} is not a '
                             '[group_name, [attribute indices]] pair')
        name, members = str(pair[0]), as_numpy(pair[1]).reshape(-1)
        if members.size == 0:
            raise ValueError(f'{_OWNER}: attribute group {name!r} of {source} is empty')
        if not np.issubdtype(members.dtype, np.integer):
            if not (np.issubdtype(members.dtype, np.number)
                    and np.all(members == np.round(members))):
                raise ValueError(f'{_OWNER}: attribute group {name!r} of {source} has '
                                 f'non-integer indices {members.tolist()[:10]}')
        members = members.astype(np.int64)
        bad = members[(members < 0) | (members >= num_attributes)]
        if bad.size:
            n_names = '' if names is None else f' ({len(names)} attribute_names)'
            raise ValueError(f'{_OWNER}: attribute group {name!r} of {source} has indices '
                             f'{bad.tolist()[:10]} out of range; expected 0..'
                             f'{num_attributes - 1} for the K={num_attributes} attributes of '
                             f'class_attributes{n_names}')
        if np.unique(members).size != members.size:
            raise ValueError(f'{_OWNER}: attribute group {name!r} of {source} lists an '
                             f'attribute twice: {members.tolist()[:20]}')
        out.append((name, members))
    seen = set()
    for name, _ in out:
        if name in seen:
            raise ValueError(f'{_OWNER}: attribute group name {name!r} appears twice in '
                             f'{source}; expected unique names (they name the reported keys)')
        seen.add(name)
    if 'mean' in seen:
        raise ValueError(f"{_OWNER}: an attribute group of {source} is named 'mean', which "
                         "would collide with the 'attributes/mean_*' keys; rename it")
    return out


@METRICS.register_module()
class AttributeGroupMetric(BaseMetric):
    """Per-attribute-group accuracy of ``pred_attributes`` on test-unseen and test-seen images.

    Definitions (argmax per group, ties in the class vector, single-attribute groups skipped)
    in the module docstring. Evaluate it on test-seen and test-unseen together (e.g. a
    ``ConcatDataset``), beside :class:`GZSLMetric`. Every predicted sample must carry:

    - ``pred_attributes`` (name set by ``pred_key``): ``[K]`` predicted attribute vector
      (set by ``SemanticAttributeHead.predict``);
    - ``gt_label``: ``[1]`` (or a scalar), the 0-based global class id (row of
      ``class_attributes``);
    - ``is_unseen``: bool (or a 0-dim / ``[1]`` tensor), True for a test-unseen image.

    From ``dataset_meta`` (set by MMEngine from the dataset's metainfo; ``ZSLXlsa17Dataset``
    and ``ZSLSynthetic`` provide them) unless given here: ``class_attributes`` (float
    ``[C, K]``) and ``attribute_groups`` (``[[name, [attribute indices]], ...]``);
    ``attribute_names`` (K strings) is optional and only used in messages.

    Reported keys (percent, per-sample accuracy; ``<group>`` for every group with at least
    two attributes):

    - ``attributes/<group>_unseen`` and ``attributes/mean_unseen`` (unweighted mean over the
      groups), when there are test-unseen samples;
    - ``attributes/<group>_seen`` and ``attributes/mean_seen``, when there are test-seen
      samples.

    A side without samples is left out (and the log says so). The log shows a table with
    each group's size, chance level and how often the true value is tied.

    Args:
        class_attributes (array-like, optional): ``[C, K]`` per-class attribute vectors;
            overrides ``dataset_meta['class_attributes']``.
        attribute_groups (list or dict, optional): ``[[name, [indices]], ...]`` or
            ``{name: [indices]}``; overrides ``dataset_meta['attribute_groups']``.
        pred_key (str): the field holding the ``[K]`` prediction.
            Defaults to ``'pred_attributes'``.
        label_key (str): the field holding the class id. Defaults to ``'gt_label'``.
        unseen_key (str): the field holding the test-unseen flag. Defaults to ``'is_unseen'``.
        collect_device, prefix, collect_dir: see :class:`mmengine.evaluator.BaseMetric`.

    Example config::

        test_evaluator = [dict(type='GZSLMetric'), dict(type='AttributeGroupMetric')]
    """
    # Keys are already namespaced ('attributes/'); '' adds no prefix and silences
    # BaseMetric's "prefix is not set" warning. ``prefix='x'`` gives 'x/attributes/...'.
    default_prefix: Optional[str] = ''

    def __init__(self,
                 class_attributes: Optional[Any] = None,
                 attribute_groups: Optional[Any] = None,
                 pred_key: str = 'pred_attributes',
                 label_key: str = 'gt_label',
                 unseen_key: str = 'is_unseen',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        self._arg_table = (None if class_attributes is None else
                           _class_table(class_attributes, 'the class_attributes argument'))
        self._arg_groups = attribute_groups
        if attribute_groups is not None and self._arg_table is not None:
            _groups(attribute_groups, self._arg_table.shape[1], 'the attribute_groups argument',
                    None)  # fail at construction when both are given and inconsistent
        self.pred_key = pred_key
        self.label_key = label_key
        self.unseen_key = unseen_key

    # ------------------------------------------------------------------ meta
    def attribute_table(self) -> Tuple[np.ndarray, List[Tuple[str, np.ndarray]]]:
        """The checked ``(class_attributes [C, K] float64, [(group name, indices), ...])``,
        from the constructor arguments, else ``dataset_meta``. All groups are returned,
        single-attribute ones included."""
        meta = self.dataset_meta or {}
        names = meta.get('attribute_names')
        if self._arg_table is not None:
            att = self._arg_table
        else:
            if meta.get('class_attributes') is None:
                raise ValueError(f"{_OWNER}: dataset_meta has no 'class_attributes' (dataset_meta "
                                 f'keys: {sorted(meta)}) and the metric was built without '
                                 f'class_attributes; {_META_HINT}')
            att = _class_table(meta['class_attributes'], "dataset_meta['class_attributes']")
        if self._arg_groups is not None:
            groups, source = self._arg_groups, 'the attribute_groups argument'
        else:
            if meta.get('attribute_groups') is None:
                raise ValueError(f"{_OWNER}: dataset_meta has no 'attribute_groups' (dataset_meta "
                                 f'keys: {sorted(meta)}) and the metric was built without '
                                 f'attribute_groups; {_META_HINT}')
            groups, source = meta['attribute_groups'], "dataset_meta['attribute_groups']"
        return att, _groups(groups, att.shape[1], source, names)

    def _evaluated_groups(self, groups: List[Tuple[str, np.ndarray]]
                          ) -> List[Tuple[str, np.ndarray]]:
        multi = [(n, idx) for n, idx in groups if idx.size >= 2]
        if not multi:
            raise ValueError(f'{_OWNER}: all {len(groups)} attribute groups have a single '
                             'attribute, so there is nothing to evaluate (the dataset was '
                             "probably built with attribute_groups='single' or 'auto' on names "
                             "without '::'); give groups of alternatives, e.g. 'awa2' / 'sun' / "
                             "'prefix'")
        return multi

    # ------------------------------------------------------------------ MMEngine API
    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Store one small CPU record per sample: ``pred`` ([K] float32 numpy), ``label``
        (int) and ``is_unseen`` (bool)."""
        att, groups = self.attribute_table()
        self._evaluated_groups(groups)  # fail on the first batch, not after the whole test set
        num_classes, num_attributes = att.shape
        names = (self.dataset_meta or {}).get('attribute_names')
        for sample in data_samples:
            pred = _field(sample, self.pred_key, 'pred_attributes')
            if hasattr(pred, 'is_floating_point') and pred.is_floating_point():
                pred = pred.detach().float()  # bf16 / fp16 have no numpy dtype
            pred = as_numpy(pred).astype(np.float32)
            if pred.ndim == 2 and pred.shape[0] == 1:
                pred = pred[0]
            if pred.ndim != 1 or pred.shape[0] != num_attributes:
                n_names = ('' if names is None else
                           f", dataset_meta['attribute_names'] has {len(names)}")
                raise ValueError(
                    f"{_OWNER}: '{self.pred_key}' has shape {tuple(pred.shape)} ({pred.size} "
                    f'values), expected [{num_attributes}]: class_attributes has '
                    f'K={num_attributes} attributes{n_names}')
            if not np.all(np.isfinite(pred)):
                raise ValueError(f"{_OWNER}: '{self.pred_key}' contains NaN or infinite values")
            label = as_numpy(_field(sample, self.label_key, 'gt_label')).reshape(-1)
            if label.size != 1:
                raise ValueError(f"{_OWNER}: '{self.label_key}' must hold one class id, got "
                                 f'{label.tolist()}')
            if not (0 <= label[0] < num_classes) or label[0] != int(label[0]):
                raise ValueError(f"{_OWNER}: '{self.label_key}' {label[0]} is out of range; "
                                 f'expected a 0-based class id in 0..{num_classes - 1} (the '
                                 f'{num_classes} rows of class_attributes)')
            flag = as_numpy(_field(sample, self.unseen_key, 'is_unseen')).reshape(-1)
            if flag.size != 1:
                raise ValueError(f"{_OWNER}: '{self.unseen_key}' must be one bool, got "
                                 f'{flag.tolist()}')
            self.results.append(dict(pred=pred.copy(), label=int(label[0]),
                                     is_unseen=bool(flag[0])))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Per-group accuracies from the records of all ranks (see the class doc)."""
        if not results:
            raise ValueError(f'{_OWNER}: no samples were evaluated')
        att, all_groups = self.attribute_table()
        groups = self._evaluated_groups(all_groups)
        preds = np.stack([r['pred'] for r in results])
        labels = np.array([r['label'] for r in results], dtype=np.int64)
        is_unseen = np.array([r['is_unseen'] for r in results], dtype=bool)
        if preds.shape[1] != att.shape[1] or labels.max() >= att.shape[0]:
            raise ValueError(f'{_OWNER}: the stored predictions ({preds.shape[1]} attributes, '
                             f'labels up to {labels.max()}) do not fit class_attributes of '
                             f'shape {tuple(att.shape)}')
        correct, tied = group_correctness(preds, labels, att, [idx for _, idx in groups])
        metrics: Dict[str, float] = {}
        for side, mask in (('unseen', is_unseen), ('seen', ~is_unseen)):
            if not mask.any():
                continue
            acc = 100.0 * correct[mask].mean(axis=0)
            for (name, _), value in zip(groups, acc):
                metrics[f'attributes/{name}_{side}'] = float(value)
            metrics[f'attributes/mean_{side}'] = float(acc.mean())
        self._log(metrics, groups, all_groups, tied, is_unseen)
        return metrics

    # ------------------------------------------------------------------ logging
    def _log(self, metrics: Dict[str, float], groups: List[Tuple[str, np.ndarray]],
             all_groups: List[Tuple[str, np.ndarray]], tied: np.ndarray,
             is_unseen: np.ndarray) -> None:
        logger = MMLogger.get_current_instance()
        n_unseen, n_seen = int(is_unseen.sum()), int((~is_unseen).sum())
        single = [n for n, idx in all_groups if idx.size < 2]
        if single:
            shown = ', '.join(single[:10]) + (', ...' if len(single) > 10 else '')
            logger.info(f'{_OWNER}: skipped {len(single)} single-attribute group(s), not '
                        f'reported (no alternatives, always right): {shown}')
        for side, n in (('test-unseen', n_unseen), ('test-seen', n_seen)):
            if n == 0:
                logger.warning(f'{_OWNER}: no {side} samples; its attributes/*_'
                               f"{side.split('-')[1]} keys are left out")

        def cell(key: str) -> str:
            return f'{metrics[key]:8.2f}' if key in metrics else f"{'-':>8}"

        width = max([len(n) for n, _ in groups] + [5])
        lines = [
            f'Attribute-group accuracy (per-sample %, argmax within each group) on {n_unseen} '
            f'test-unseen + {n_seen} test-seen samples; tied = % of samples whose class has '
            'several equal top values in the group (any of them counts as correct)',
            f"  {'group':<{width}}{'size':>6}{'chance':>8}{'U':>8}{'S':>8}{'tied':>8}",
        ]
        for (name, idx), t in zip(groups, 100.0 * tied.mean(axis=0)):
            lines.append(f'  {name:<{width}}{idx.size:6d}{100.0 / idx.size:8.2f}'
                         f"{cell(f'attributes/{name}_unseen')}{cell(f'attributes/{name}_seen')}"
                         f'{t:8.1f}')
        chance = float(np.mean([100.0 / idx.size for _, idx in groups]))
        lines.append(f"  {'mean':<{width}}{'':>6}{chance:8.2f}{cell('attributes/mean_unseen')}"
                     f"{cell('attributes/mean_seen')}")
        logger.info('\n'.join(lines))


def group_correctness(preds: np.ndarray, labels: np.ndarray, class_attributes: np.ndarray,
                      groups: Sequence[np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
    """Per sample and group: is the predicted value a true value, and is the true value tied.

    Args:
        preds: ``[N, K]`` predicted attribute vectors.
        labels: ``[N]`` class ids (rows of ``class_attributes``).
        class_attributes: ``[C, K]``.
        groups: ``G`` int arrays of attribute indices.

    Returns:
        ``(correct [N, G] bool, tied [N, G] bool)``; see the module docstring.
    """
    n = preds.shape[0]
    correct = np.zeros((n, len(groups)), dtype=bool)
    tied = np.zeros((n, len(groups)), dtype=bool)
    rows = np.arange(n)
    for g, idx in enumerate(groups):
        choice = np.argmax(preds[:, idx], axis=1)  # [N], position within the group
        truth = class_attributes[labels][:, idx]  # [N, |I_g|]
        is_max = truth == truth.max(axis=1, keepdims=True)
        correct[:, g] = is_max[rows, choice]
        tied[:, g] = is_max.sum(axis=1) > 1
    return correct, tied
