"""How many epochs of a cheaper model take as long to train as a reference model's schedule.

For compute-matched baselines ("the baseline at SVIP's wall time"). Wall times of whole runs
depend on what else the machine was doing; this tool instead reads the per-iteration ``time``
that MMEngine's ``LoggerHook`` writes to ``<work_dir>/<timestamp>/vis_data/scalars.json`` (the
mean seconds per iteration over each logging window, data loading included) from timing runs
made under the same conditions, and takes its median per phase of the two-phase schedule
(phase-1 epochs, then the rest), so one slow window (a checkpoint, a figure, another process)
does not move it.

    python tools/match_epochs.py --reference WORK_DIR --reference-phase1 4 \\
        --reference-epochs 30 --candidate WORK_DIR --candidate-phase1 1 [--json OUT]

The reference schedule costs ``T = p1 * c1 + (E - p1) * c2`` seconds (``c1``/``c2``: seconds per
epoch in phase 1/2, = median iteration time x iterations per epoch); the candidate gets
``p1' + round((T - p1' * c1') / c2')`` epochs (its own phase-1 epochs included). Timing runs may
be shorter than the real schedule (``--cfg-options train_cfg.max_epochs=N``), as long as each
phase has logged windows. Only training iterations count: evaluation at the end is the same
test set for both models and is not part of the matched budget.
"""
import argparse
import json
import statistics
from pathlib import Path
from typing import Dict, List


def read_train_rows(work_dir: Path) -> List[dict]:
    """Training log rows (with ``epoch``, ``iter`` and ``time``) of the newest run in ``work_dir``.

    A work dir holds one ``<timestamp>/vis_data/scalars.json`` per launch (a resumed run has
    several); the newest is read, since it is the one that ran to the end.
    """
    work_dir = Path(work_dir)
    files = sorted(work_dir.glob('*/vis_data/scalars.json'))
    if not files:
        raise FileNotFoundError(f'{work_dir}: no */vis_data/scalars.json (an MMEngine work dir '
                                'with LoggerHook output was expected)')
    path = files[-1]
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f'{path}:{number}: not a JSON line ({err.msg})') from None
        # evaluation rows carry metrics but no iteration time
        if 'time' in row and 'epoch' in row and 'iter' in row:
            rows.append(row)
    if not rows:
        raise ValueError(f'{path}: no training rows with "epoch", "iter" and "time"')
    return rows


def iters_per_epoch(rows: List[dict], where: str = 'log') -> int:
    """Iterations per epoch, from the global ``iter`` of rows at the same place in two epochs."""
    first_of_epoch = {}
    for row in rows:
        first_of_epoch.setdefault(row['epoch'], row['iter'])
    epochs = sorted(first_of_epoch)
    steps = {(first_of_epoch[b] - first_of_epoch[a]) // (b - a)
             for a, b in zip(epochs, epochs[1:])
             if (first_of_epoch[b] - first_of_epoch[a]) % (b - a) == 0}
    if len(epochs) < 2 or len(steps) != 1:
        raise ValueError(f'{where}: cannot tell the iterations per epoch from epochs {epochs} '
                         '(at least two epochs of the same length were expected)')
    return steps.pop()


def phase_costs(rows: List[dict], phase1_epochs: int, where: str = 'log') -> Dict[str, float]:
    """Seconds per epoch in phase 1 (epochs <= ``phase1_epochs``) and phase 2 (the rest)."""
    n = iters_per_epoch(rows, where)
    costs = {'iters_per_epoch': n, 'phase1': 0.0}
    phases = {'phase1': [r['time'] for r in rows if r['epoch'] <= phase1_epochs],
              'phase2': [r['time'] for r in rows if r['epoch'] > phase1_epochs]}
    for phase, times in phases.items():
        if phase == 'phase1' and phase1_epochs == 0:
            continue  # no phase 1: it costs nothing
        if not times:
            raise ValueError(f'{where}: no logged iterations in {phase} (phase 1 = epochs '
                             f'1-{phase1_epochs}); the timing run must reach both phases')
        costs[phase] = statistics.median(times) * n
        costs[f'{phase}_windows'] = len(times)
    return costs


def match_epochs(reference: Dict[str, float], reference_phase1: int, reference_epochs: int,
                 candidate: Dict[str, float], candidate_phase1: int) -> Dict[str, float]:
    """The candidate's epoch count whose training time is nearest the reference schedule's."""
    if not 0 <= reference_phase1 <= reference_epochs:
        raise ValueError(f'reference phase-1 epochs {reference_phase1} must lie in '
                         f'[0, {reference_epochs}]')
    budget = (reference_phase1 * reference['phase1']
              + (reference_epochs - reference_phase1) * reference['phase2'])
    rest = budget - candidate_phase1 * candidate['phase1']
    if rest <= 0:
        raise ValueError(f'the candidate\'s {candidate_phase1} phase-1 epochs alone take longer '
                         f'than the reference budget of {budget:.1f} s')
    epochs = candidate_phase1 + round(rest / candidate['phase2'])
    spent = (candidate_phase1 * candidate['phase1']
             + (epochs - candidate_phase1) * candidate['phase2'])
    return dict(budget_s=budget, epochs=epochs, candidate_s=spent)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--reference', required=True, type=Path, help='timing run work dir')
    parser.add_argument('--reference-phase1', required=True, type=int,
                        help='phase-1 epochs of the reference schedule')
    parser.add_argument('--reference-epochs', required=True, type=int,
                        help='epochs of the full reference schedule')
    parser.add_argument('--candidate', required=True, type=Path, help='timing run work dir')
    parser.add_argument('--candidate-phase1', required=True, type=int,
                        help='phase-1 epochs of the candidate schedule')
    parser.add_argument('--json', type=Path, help='write the figures here')
    args = parser.parse_args(argv)

    ref = phase_costs(read_train_rows(args.reference), args.reference_phase1,
                      str(args.reference))
    cand = phase_costs(read_train_rows(args.candidate), args.candidate_phase1,
                       str(args.candidate))
    match = match_epochs(ref, args.reference_phase1, args.reference_epochs, cand,
                         args.candidate_phase1)
    for name, costs in (('reference', ref), ('candidate', cand)):
        print(f'{name}: {costs["iters_per_epoch"]} iterations/epoch, '
              f'{costs["phase1"]:.2f} s/epoch in phase 1, {costs["phase2"]:.2f} s/epoch in phase 2')
    print(f'reference schedule: {args.reference_epochs} epochs, {match["budget_s"]:.1f} s of '
          f'training; candidate: {match["epochs"]} epochs, {match["candidate_s"]:.1f} s')
    if args.json:
        args.json.write_text(json.dumps(dict(reference=ref, candidate=cand, **match,
                                             reference_dir=str(args.reference),
                                             candidate_dir=str(args.candidate)), indent=2))


if __name__ == '__main__':
    from svip_mm.utils.tool_errors import run_tool
    run_tool(main)
