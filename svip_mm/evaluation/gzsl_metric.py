"""GZSLMetric: zero-shot and generalised zero-shot accuracy as an MMEngine metric."""
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmpretrain.registry import METRICS

from .sample_fields import sample_field
from .zsl_accuracy import BLOCKS, as_numpy, check_class_split, evaluate_zsl, non_finite_rows


def _field(sample: Any, key: str) -> Any:
    return sample_field(sample, key, 'GZSLMetric',
                        'the model must set it on every predicted sample')


@METRICS.register_module()
class GZSLMetric(BaseMetric):
    """ZSL top-1 and GZSL U / S / H with calibrated stacking (``docs/method.md``, section 9).

    Evaluate it on test-seen and test-unseen together (e.g. a ``ConcatDataset``). Every
    predicted sample must carry:

    - ``pred_score`` (name set by ``score_key``): ``[C]`` softmax probabilities over ALL C
      classes in the global class order;
    - ``gt_label``: ``[1]`` (or a scalar), the 0-based global class id;
    - ``is_unseen``: bool (or a 0-dim / ``[1]`` tensor), True for a test-unseen sample.

    Scores holding a NaN or an inf are refused with one error saying how many samples have
    them (a damaged checkpoint or damaged data), never turned into a table.

    The seen / unseen class ids come from ``dataset_meta['seen_classes']`` and
    ``dataset_meta['unseen_classes']`` (set by MMEngine from the dataset's metainfo), unless
    ``seen_classes`` and ``unseen_classes`` are given here, which take precedence. If the
    metainfo has ``classes``, their number must equal ``len(seen) + len(unseen)``.

    Reported keys (percent; per-class mean top-1 unless noted):

    - always (honest block): ``zsl/top1`` (test-unseen, argmax over unseen classes only);
      ``gzsl/U``, ``gzsl/S``, ``gzsl/H`` (argmax over all classes after subtracting ``gamma``
      from every seen class's score; ``gamma`` comes from the config or from held-out data).
    - ``'oracle'`` in ``blocks``: ``oracle/U``, ``oracle/S``, ``oracle/H``, ``oracle/gamma``:
      the gamma of ``oracle_gammas`` with the best H on the test set itself. An UPPER BOUND
      that uses the test labels, never a result to quote.
    - ``'official'`` in ``blocks``: ``official/U``, ``official/S``, ``official/H``,
      ``official/gamma``: the official SVIP evaluation (gamma swept over [-1, 1) in steps of
      0.01 on the probabilities, best H on the test set, per-SAMPLE accuracy), for parity with
      published tables only. The official code adds gamma to the unseen classes' scores; that
      is the same decision as subtracting it from the seen ones, so ``official/gamma`` uses the
      convention of ``gamma`` here.

    Args:
        gamma (float): calibration subtracted from seen classes' scores for the honest block.
            Defaults to 0.
        blocks (Sequence[str]): report blocks among ``'honest'``, ``'oracle'``, ``'official'``;
            ``'honest'`` is reported even if left out. Defaults to all three.
        seen_classes (Sequence[int], optional): 0-based global seen class ids.
        unseen_classes (Sequence[int], optional): 0-based global unseen class ids. Give both or
            neither.
        score_key (str): the data-sample field holding the ``[C]`` scores.
            Defaults to ``'pred_score'``.
        label_key (str): the field holding the class id. Defaults to ``'gt_label'``.
        unseen_key (str): the field holding the test-unseen flag. Defaults to ``'is_unseen'``.
        oracle_gammas (Sequence[float], optional): gammas swept by the oracle block; defaults
            to the official grid (-1.00, -0.99, ..., 0.99).
        collect_device, prefix, collect_dir: see :class:`mmengine.evaluator.BaseMetric`.

    Example config::

        test_evaluator = dict(type='GZSLMetric', gamma=0.0,
                              blocks=('honest', 'oracle', 'official'))
    """
    # Keys are already namespaced ('zsl/', 'gzsl/', ...); '' (not None) adds no prefix and
    # silences BaseMetric's "prefix is not set" warning. ``prefix='x'`` gives 'x/gzsl/H'.
    default_prefix: Optional[str] = ''

    def __init__(self,
                 gamma: float = 0.0,
                 blocks: Sequence[str] = BLOCKS,
                 seen_classes: Optional[Sequence[int]] = None,
                 unseen_classes: Optional[Sequence[int]] = None,
                 score_key: str = 'pred_score',
                 label_key: str = 'gt_label',
                 unseen_key: str = 'is_unseen',
                 oracle_gammas: Optional[Sequence[float]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        if isinstance(blocks, str):
            blocks = (blocks, )
        unknown = [b for b in blocks if b not in BLOCKS]
        if unknown:
            raise ValueError(f'GZSLMetric: unknown blocks {unknown}; choose from {list(BLOCKS)}')
        self.blocks: Tuple[str, ...] = tuple(b for b in BLOCKS if b == 'honest' or b in blocks)
        try:
            self.gamma = float(gamma)
        except (TypeError, ValueError):
            raise ValueError(f'GZSLMetric: gamma must be a number, got {gamma!r}') from None
        if (seen_classes is None) != (unseen_classes is None):
            raise ValueError('GZSLMetric: give both seen_classes and unseen_classes, or neither '
                             '(then they come from dataset_meta); got '
                             f'seen_classes={seen_classes!r}, unseen_classes={unseen_classes!r}')
        self._arg_split = None
        if seen_classes is not None:
            self._arg_split = check_class_split(seen_classes, unseen_classes)
        self.score_key = score_key
        self.label_key = label_key
        self.unseen_key = unseen_key
        self.oracle_gammas = None if oracle_gammas is None else [float(g) for g in oracle_gammas]
        if self.oracle_gammas is not None and not self.oracle_gammas:
            raise ValueError('GZSLMetric: oracle_gammas is empty')

    # ------------------------------------------------------------------ class split
    def class_split(self) -> Tuple[np.ndarray, np.ndarray]:
        """The checked ``(seen [S], unseen [U])`` class ids (constructor args, else metainfo)."""
        meta = self.dataset_meta or {}
        num_classes = len(meta['classes']) if meta.get('classes') is not None else None
        if self._arg_split is not None:
            seen, unseen = self._arg_split
            source = 'the seen_classes / unseen_classes arguments'
        else:
            missing = [k for k in ('seen_classes', 'unseen_classes') if meta.get(k) is None]
            if missing:
                raise ValueError(
                    f'GZSLMetric: no seen/unseen class split: dataset_meta lacks {missing} '
                    f'(dataset_meta keys: {sorted(meta)}) and the metric was built without '
                    'seen_classes / unseen_classes')
            seen, unseen = meta['seen_classes'], meta['unseen_classes']
            source = "dataset_meta['seen_classes'] / ['unseen_classes']"
        try:
            return check_class_split(seen, unseen, num_classes)
        except ValueError as err:
            extra = (f' (the dataset has {num_classes} classes)' if num_classes is not None
                     else '')
            raise ValueError(f'GZSLMetric: bad class split from {source}{extra}: {err}') from None

    # ------------------------------------------------------------------ MMEngine API
    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Store one small CPU record per sample: ``score`` ([C] float32 numpy), ``label``
        (int) and ``is_unseen`` (bool)."""
        seen, unseen = self.class_split()
        num_classes = seen.size + unseen.size
        for sample in data_samples:
            score = as_numpy(_to_float(_field(sample, self.score_key)))
            if score.ndim == 2 and score.shape[0] == 1:
                score = score[0]
            if score.ndim != 1 or score.shape[0] != num_classes:
                raise ValueError(
                    f"GZSLMetric: '{self.score_key}' has shape {tuple(score.shape)}, expected "
                    f'[{num_classes}] (scores over all {seen.size} seen + {unseen.size} unseen '
                    'classes)')
            label = as_numpy(_field(sample, self.label_key)).reshape(-1)
            if label.size != 1:
                raise ValueError(f"GZSLMetric: '{self.label_key}' must hold one class id, got "
                                 f'{label.tolist()}')
            if not (0 <= label[0] < num_classes) or label[0] != int(label[0]):
                raise ValueError(f"GZSLMetric: '{self.label_key}' {label[0]} is out of range; "
                                 f'expected a 0-based class id in 0..{num_classes - 1}')
            flag = as_numpy(_field(sample, self.unseen_key)).reshape(-1)
            if flag.size != 1:
                raise ValueError(f"GZSLMetric: '{self.unseen_key}' must be one bool, got "
                                 f'{flag.tolist()}')
            self.results.append(
                dict(score=score.astype(np.float32, copy=True), label=int(label[0]),
                     is_unseen=bool(flag[0])))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Compute the report blocks from the records of all ranks (see the class doc).

        Raises:
            ValueError: no samples; a sample whose scores hold a NaN or an inf (the message
                says how many: a damaged checkpoint or damaged data); bad labels or flags.
        """
        if not results:
            raise ValueError('GZSLMetric: no samples were evaluated')
        seen, unseen = self.class_split()
        scores = np.stack([r['score'] for r in results])
        labels = np.array([r['label'] for r in results], dtype=np.int64)
        is_unseen = np.array([r['is_unseen'] for r in results], dtype=bool)
        bad = non_finite_rows(scores)
        if bad.size:
            # a nan score still gives an argmax, so the table would print numbers; but they
            # would measure the damage, not the model
            raise ValueError(
                f"GZSLMetric: {bad.size} of {len(results)} samples have non-finite "
                f"'{self.score_key}' (NaN or inf; {int(is_unseen[bad].sum())} of them "
                f'test-unseen; sample indices {bad.tolist()[:10]}'
                f'{" ..." if bad.size > 10 else ""}): the checkpoint or the data are damaged '
                '(a NaN / inf in the weights, the class attributes or the word vectors); '
                'expected finite scores, so no accuracies are reported')
        try:
            metrics = evaluate_zsl(scores, labels, is_unseen, seen, unseen, gamma=self.gamma,
                                   blocks=self.blocks, oracle_gammas=self.oracle_gammas)
        except ValueError as err:
            raise ValueError(f'GZSLMetric: {err}') from None
        self._log(metrics, labels, is_unseen, seen, unseen)
        return metrics

    # ------------------------------------------------------------------ logging
    def _log(self, metrics: Dict[str, float], labels: np.ndarray, is_unseen: np.ndarray,
             seen: np.ndarray, unseen: np.ndarray) -> None:
        logger = MMLogger.get_current_instance()
        n_seen_cls = np.unique(labels[~is_unseen]).size
        n_unseen_cls = np.unique(labels[is_unseen]).size
        if n_seen_cls < seen.size or n_unseen_cls < unseen.size:
            logger.warning(
                f'GZSLMetric: only {n_seen_cls}/{seen.size} seen and {n_unseen_cls}/'
                f'{unseen.size} unseen classes have test samples; per-class means are over the '
                'classes present')
        def row(name: str, block: str, t1: str, note: str) -> str:
            gamma = self.gamma if block == 'gzsl' else metrics[f'{block}/gamma']
            u, s, h = (metrics[f'{block}/{k}'] for k in 'USH')
            return f'  {name:<9}{gamma:+7.3f}{t1:>8}{u:8.2f}{s:8.2f}{h:8.2f}   {note}'

        lines = [
            f'GZSL evaluation: {int((~is_unseen).sum())} test-seen + {int(is_unseen.sum())} '
            'test-unseen samples; per-class mean top-1 unless noted',
            f"  {'block':<9}{'gamma':>7}{'T1':>8}{'U':>8}{'S':>8}{'H':>8}",
            row('honest', 'gzsl', f"{metrics['zsl/top1']:.2f}", 'gamma from the config'),
        ]
        if 'oracle/H' in metrics:
            lines.append(row('oracle', 'oracle', '-',
                             'UPPER BOUND: gamma tuned on the test set; not a result'))
        if 'official/H' in metrics:
            lines.append(row('official', 'official', '-',
                             'official SVIP protocol: gamma tuned on the test set, per-SAMPLE '
                             'accuracy; only for parity with published tables'))
        logger.info('\n'.join(lines))


def _to_float(x: Any) -> Any:
    """Tensors (possibly on a GPU, possibly bf16) to float32 CPU; other values unchanged."""
    if hasattr(x, 'detach'):
        return x.detach().float().cpu()
    return x
