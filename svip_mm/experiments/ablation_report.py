"""The report of an experiment that compares variants against its criteria (``ablation``,
``difficulty``, ``pretrained``): a Markdown file and a figure next to it.

The report holds the mean, standard deviation and range over seeds of ZSL T1, GZSL U / S / H
(gamma 0: no calibration), selector and attention AUROC and wall time per variant, the
per-group attribute accuracy on unseen images, the experiment's criteria with the measured
differences (per seed where both variants ran), and the per-run rows.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np

from .report_header import report_header
from .spec import Experiments, read_experiments

#: the table's metrics: (key in a run's metrics, column name); the figure shows the first four
MAIN_METRICS = [('zsl/top1', 'T1'), ('gzsl/U', 'U'), ('gzsl/S', 'S'), ('gzsl/H', 'H'),
                ('selection/selector_auroc', 'AUROC'),
                ('selection/attention_auroc', 'attention AUROC')]


def summarise(values: List[float]) -> Dict[str, float]:
    """Mean, standard deviation (ddof 1; 0 for one value), min and max."""
    v = np.asarray(values, dtype=np.float64)
    return dict(mean=float(v.mean()), std=float(v.std(ddof=1)) if v.size > 1 else 0.0,
                min=float(v.min()), max=float(v.max()), n=int(v.size))


def attribute_group_keys(records: Dict[str, List[dict]]) -> List[str]:
    """The ``attributes/<group>_unseen`` metrics any run has, ``attributes/mean_unseen``
    last."""
    keys = set()
    for runs in records.values():
        for r in runs:
            keys |= {k for k in r['metrics'] if k.startswith('attributes/')
                     and k.endswith('_unseen')}
    return sorted(keys, key=lambda k: (k == 'attributes/mean_unseen', k))


def fmt(stat: Optional[Dict[str, float]], scale: float = 1.0, digits: int = 1) -> str:
    """``mean ± std (min–max)`` of :func:`summarise`'s result; ``-`` for none."""
    if stat is None:
        return '-'
    return (f'{stat["mean"] * scale:.{digits}f} ± {stat["std"] * scale:.{digits}f} '
            f'({stat["min"] * scale:.{digits}f}–{stat["max"] * scale:.{digits}f})')


def stats_of(runs: List[dict], key: str) -> Optional[Dict[str, float]]:
    """:func:`summarise` of the metric ``key`` over the runs that have it; None if none."""
    values = [r['metrics'][key] for r in runs if key in r['metrics']]
    return summarise(values) if values else None


def write_figure(experiment: str, records: Dict[str, List[dict]], path: str,
                 experiments: Optional[Experiments] = None) -> None:
    """Bars of the mean T1 / U / S / H per variant with each seed as a dot.

    ``experiments``: the data files (default: the repository's, :func:`read_experiments`)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    spec = experiments or read_experiments()
    variants = [(k, label) for k, label, _ in spec.variants[experiment]
                if k in records and k not in spec.attention_only]
    metrics = MAIN_METRICS[:4]
    fig, ax = plt.subplots(figsize=(8, 4.4))
    width = 0.8 / len(variants)
    for i, (key, label) in enumerate(variants):
        xs = np.arange(len(metrics)) + (i - (len(variants) - 1) / 2) * width
        values = [[r['metrics'][m] for r in records[key]] for m, _ in metrics]
        ax.bar(xs, [np.mean(v) for v in values], width * 0.9, label=label)
        for x, v in zip(xs, values):
            ax.plot([x] * len(v), v, 'k.', markersize=3)
    ax.set_xticks(np.arange(len(metrics)), [name for _, name in metrics])
    ax.set_ylabel('accuracy (%)')
    ax.set_ylim(0, 100)
    ax.set_title(f'{experiment}: mean over seeds (dots: single seeds)')
    ax.legend(fontsize=7, loc='upper center', bbox_to_anchor=(0.5, -0.08), ncol=2)
    # the legend hangs below the axes: grow the saved image to hold all of it
    fig.savefig(path, dpi=120, bbox_inches='tight')
    plt.close(fig)


def write_ablation_report(experiment: str, records: Dict[str, List[dict]], path: str,
                          argv: Sequence[str],
                          experiments: Optional[Experiments] = None) -> List[str]:
    """Write the Markdown report to ``path`` and its figure next to it (``.png``, the same
    name); returns the criteria lines.

    ``records``: variant key -> its runs' records (:func:`~.runs.run_one`); ``argv``: the
    command line's arguments, quoted in the report; ``experiments``: the data files (default:
    the repository's)."""
    spec = experiments or read_experiments()
    attention_only = spec.attention_only
    entries = [(k, label, cfg) for k, label, cfg in spec.variants[experiment] if k in records]
    groups = attribute_group_keys(records)
    lines = report_header('Synthetic-data experiment', experiment, argv, records) + [
        '',
        'Mean ± standard deviation (min–max) over seeds. T1: ZSL top-1 on unseen classes; '
        'U / S / H: GZSL at gamma 0 (no calibration); AUROC: the selector\'s for background '
        'units; attention AUROC: the same for the attention rollout of the model\'s ViT on '
        'the full image (for the mmpretrain baselines, measured by loading their fine-tuned '
        'ViT into a 0-epoch SVIP model: `attention_probe/` in the run\'s folder); per-class '
        'mean accuracies in %.', '',
        '| variant | ' + ' | '.join(name for _, name in MAIN_METRICS) + ' | wall (s) |',
        '|---|' + '---|' * (len(MAIN_METRICS) + 1)]
    for key, label, _ in entries:
        runs = records[key]
        cells = [fmt(stats_of(runs, m), digits=3 if m.startswith('selection') else 1)
                 if key not in attention_only or m == 'selection/attention_auroc' else '-'
                 for m, _ in MAIN_METRICS]
        lines.append(f'| {label} | ' + ' | '.join(cells) +
                     f' | {summarise([r["wall_s"] for r in runs])["mean"]:.0f} |')
    if groups:
        names = [g[len('attributes/'):-len('_unseen')] for g in groups]
        lines += ['', 'Attribute accuracy per group on unseen-class images (argmax within the '
                  'group against the class\'s value; %):', '',
                  '| variant | ' + ' | '.join(names) + ' |', '|---|' + '---|' * len(names)]
        for key, label, _ in entries:
            if key not in attention_only:
                lines.append(f'| {label} | ' + ' | '.join(fmt(stats_of(records[key], g))
                                                           for g in groups) + ' |')
    criteria = []
    for text, a, b, metric, least in spec.criteria[experiment]:
        if a not in records or b not in records:
            continue
        diff = stats_of(records[a], metric)['mean'] - stats_of(records[b], metric)['mean']
        line = f'- {text}: {diff:+.1f} -> {"met" if diff >= least else "NOT met"}'
        by_seed_a = {r['seed']: r['metrics'][metric] for r in records[a]}
        by_seed_b = {r['seed']: r['metrics'][metric] for r in records[b]}
        seeds = sorted(set(by_seed_a) & set(by_seed_b))
        if seeds:
            diffs = [by_seed_a[s] - by_seed_b[s] for s in seeds]
            every = 'every seed positive' if min(diffs) > 0 else 'NOT every seed positive'
            line += ('; per seed ' + ', '.join(f'{s}: {d:+.1f}' for s, d in zip(seeds, diffs))
                     + f' ({every})')
        criteria.append(line)
    for text, key, metric, least in spec.absolute_criteria.get(experiment, []):
        stat = stats_of(records.get(key, []), metric)
        if stat is not None:
            criteria.append(f'- {text}: mean {stat["mean"]:.3f} -> '
                            f'{"met" if stat["mean"] >= least else "NOT met"}')
    lines += ['', '## Criteria (difference of the means; per seed where both ran)', ''] + criteria
    lines += ['', '## Runs', '',
              '| variant | config | seed | T1 | U | S | H | AUROC | attention AUROC | wall (s) |',
              '|---|---|---|---|---|---|---|---|---|---|']
    for key, label, cfg in entries:
        for r in sorted(records[key], key=lambda r: r['seed']):
            m = r['metrics']
            auroc = m.get('selection/selector_auroc')
            attn = m.get('selection/attention_auroc')
            cfg_note = (f'`{cfg}`' + (' (re-evaluated)' if 'retested_from' in r else '')
                        + (' (resumed)' if r.get('attempts', 1) > 1 else ''))
            scores = ('- | - | - | - | -' if key in attention_only else
                      f'{m["zsl/top1"]:.1f} | {m["gzsl/U"]:.1f} | {m["gzsl/S"]:.1f} | '
                      f'{m["gzsl/H"]:.1f} | {"-" if auroc is None else f"{auroc:.3f}"}')
            lines.append(f'| {label} | {cfg_note} | {r["seed"]} | {scores} | '
                         f'{"-" if attn is None else f"{attn:.3f}"} | {r["wall_s"]:.0f} |')
    if any('retested_from' in r for runs in records.values() for r in runs):
        lines += ['', '(re-evaluated): trained with an earlier version of the config that differed '
                  'at test time only, then evaluated with the current one (`--retest`).']
    if any(r.get('attempts', 1) > 1 for runs in records.values() for r in runs):
        lines += ['', '(resumed): an earlier attempt stopped after its last checkpoint; the run '
                  'was resumed from it, and its wall time adds up the attempts '
                  '(`attempts.json` in its folder).']
    figure = osp.splitext(path)[0] + '.png'
    write_figure(experiment, records, figure, spec)
    lines += ['', f'![{experiment}]({osp.basename(figure)})', '']
    with open(path, 'w') as f:
        f.write('\n'.join(lines))
    return criteria
