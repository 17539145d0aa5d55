"""The report of a calibrated methods comparison (an experiment with ``calibrate = True``,
``methods``): every figure under one protocol, the test-tuned ones labelled as such.

Per ``regime`` of the data file, one table of the methods (:data:`METHOD_COLUMNS`), then the
paired per-seed differences of each method against its regime's ``reference`` for H at
gamma 0 and the calibrated H, judged against the seed spread
(``svip_mm.evaluation.comparison``); then the per-run rows.
"""
from typing import Dict, List, Optional, Sequence

from ..evaluation.comparison import (TRANSDUCTIVE_MARK, format_methods_rows,
                                     format_paired_difference, paired_difference)
from .report_header import report_header
from .spec import Experiments, read_experiments

#: the methods table's columns after the label: (key of :func:`method_values`, header,
#: decimals); the test-tuned ones say so in their header
METHOD_COLUMNS = [
    ('zsl/top1', 'ZSL T1', 1), ('gzsl/U', 'U (γ 0)', 1), ('gzsl/S', 'S (γ 0)', 1),
    ('gzsl/H', 'H (γ 0)', 1), ('calibrated/H', 'H, calibrated γ', 1),
    ('calibrated/gamma', 'calibrated γ', 2),
    ('oracle/H', 'oracle H (test-tuned γ)', 1),
    ('official/H', 'official H (test-tuned γ, per-sample)', 1),
    ('wall/train', 'training (s)', 0), ('wall/calibration', 'calibration (s)', 0)]


def method_values(runs: List[dict]) -> Dict[str, List[float]]:
    """Column key of :data:`METHOD_COLUMNS` -> the per-run values of a variant's runs (a run
    without the value, e.g. not calibrated, adds nothing to that column)."""
    values: Dict[str, List[float]] = {key: [] for key, _, _ in METHOD_COLUMNS}
    for r in runs:
        flat = dict(r['metrics'], **{'wall/train': r['wall_s']})
        cal = r.get('calibrated')
        if cal:
            flat.update({'calibrated/H': cal['H'], 'calibrated/gamma': cal['gamma'],
                         'wall/calibration': cal['wall_s']})
        for key in values:
            if key in flat:
                values[key].append(float(flat[key]))
    return values


def write_methods_report(experiment: str, records: Dict[str, List[dict]], path: str,
                         argv: Sequence[str],
                         experiments: Optional[Experiments] = None) -> List[str]:
    """Write the report of a calibrated methods comparison to ``path``; returns the paired
    difference lines.

    Per regime of the data file, a table of the methods (:data:`METHOD_COLUMNS`: the honest
    figures, the test-tuned ones labelled as such, the wall times), then the paired per-seed
    differences of each method against the regime's reference, for H at gamma 0 and the
    calibrated H, with the inside-the-seed-spread judgement
    (``svip_mm.evaluation.comparison``); the per-run rows.

    ``records``: variant key -> its runs' records (with ``calibrated``,
    :func:`~.calibrated_run.calibrate_run`); ``argv``: the command line's arguments, quoted in
    the report; ``experiments``: the data files (default: the repository's).
    """
    spec = experiments or read_experiments()
    settings = spec.settings[experiment]
    labels = {k: label for k, label, _ in spec.variants[experiment]}
    entries = [(k, label, cfg) for k, label, cfg in spec.variants[experiment] if k in records]
    regimes: List[Optional[str]] = []
    for k, _, _ in entries:
        if settings['regime'].get(k) not in regimes:
            regimes.append(settings['regime'].get(k))
    lines = report_header('Methods under one protocol', experiment, argv, records) + [
        '',
        'Mean ± standard deviation over seeds (sample std), per-class mean accuracies in %. '
        'Honest figures: ZSL T1 (unseen classes only); U / S / H at gamma 0 (no '
        'calibration); H at the calibrated gamma, chosen without the test set '
        '(`tools/calibrate.py` with its defaults: a model of the same config trained on '
        'the train_loc classes minus 20% held-out images, held-out seed 0, training seed = '
        'the run\'s; gamma swept on val_loc images as pseudo-unseen and the held-out '
        'images as pseudo-seen; docs/calibration.md), and that gamma. **Test-tuned** '
        '(how the compared papers report; an upper bound, never a result): oracle H, the '
        'best per-class H over gamma in [-1, 1) on the test set itself; official H, the '
        'same with per-sample accuracy (the official SVIP evaluation). Wall times: the '
        'run (training and its test) and its calibration (the four steps above) '
        'separately.']
    if settings['transductive'] & set(records):
        lines += ['', f'{TRANSDUCTIVE_MARK.strip()}: the method reads the unseen classes\' '
                  'attribute vectors in training (not zero-shot in the strict sense); its '
                  'inductive variant, where there is one, is the fair comparison.']
    differences = []
    for regime in regimes:
        keys = [k for k, _, _ in entries if settings['regime'].get(k) == regime]
        methods = [dict(label=labels[k], transductive=k in settings['transductive'],
                        values=method_values(records[k])) for k in keys]
        lines += ['', f'## {regime}' if regime else '## Methods', '']
        lines += format_methods_rows(methods, METHOD_COLUMNS)
        pairs = []
        for k in keys:
            ref = settings['reference'].get(k)
            if ref is None or ref == k or ref not in records:
                continue
            for metric, name in [('gzsl/H', 'H at gamma 0'), ('calibrated/H', 'calibrated H')]:
                a = _per_seed(records[k], metric)
                b = _per_seed(records[ref], metric)
                if set(a) & set(b):
                    pairs.append(format_paired_difference(
                        f'{labels[k]} - {labels[ref]}, {name}', paired_difference(a, b)))
        if pairs:
            ref_label = labels[settings['reference'][keys[0]]]
            lines += ['', f'Paired per-seed differences against {ref_label} '
                      '(mean ± sample std, range, per seed). Inside the seed spread: |mean '
                      'difference| <= the larger of the two methods\' seed std over the same '
                      'seeds, i.e. no larger than a method moves from seed to seed: not a '
                      'result.', ''] + pairs
            differences += pairs
    lines += ['', '## Runs', '',
              '| variant | config | seed | T1 | U | S | H | γ | U cal | S cal | H cal | '
              'oracle H (test-tuned) | official H (test-tuned) | training (s) | '
              'calibration (s) |',
              '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|']
    for key, label, cfg in entries:
        for r in sorted(records[key], key=lambda r: r['seed']):
            m, cal = r['metrics'], r.get('calibrated') or {}
            cells = [_cell(m.get('zsl/top1')), _cell(m.get('gzsl/U')), _cell(m.get('gzsl/S')),
                     _cell(m.get('gzsl/H')), _cell(cal.get('gamma'), 2), _cell(cal.get('U')),
                     _cell(cal.get('S')), _cell(cal.get('H')), _cell(m.get('oracle/H')),
                     _cell(m.get('official/H')), _cell(r['wall_s'], 0),
                     _cell(cal.get('wall_s'), 0)]
            mark = TRANSDUCTIVE_MARK if key in settings['transductive'] else ''
            lines.append(f'| {label}{mark} | `{cfg}` | {r["seed"]} | ' + ' | '.join(cells)
                         + ' |')
    with open(path, 'w') as f:
        f.write('\n'.join(lines + ['']))
    return differences


def _per_seed(runs: List[dict], metric: str) -> Dict[int, float]:
    """seed -> the metric (``calibrated/H``: the calibrated record's H) of the runs that have
    it."""
    out = {}
    for r in runs:
        if metric == 'calibrated/H':
            if r.get('calibrated'):
                out[r['seed']] = r['calibrated']['H']
        elif metric in r['metrics']:
            out[r['seed']] = r['metrics'][metric]
    return out


def _cell(value: Optional[float], digits: int = 1) -> str:
    """A per-run cell: the value with ``digits`` decimals, ``-`` for none."""
    return '-' if value is None else f'{value:.{digits}f}'
