"""Reading the experiments' data files, ``configs/experiments/<name>.py``.

Each file is plain data read with MMEngine's Config: its ``variants`` (a key, a label and a
config each, plus flags), the ``criteria`` its report checks, optional
``absolute_criteria``, and the methods-comparison settings (``calibrate``, ``reference``,
each variant's ``regime`` and ``transductive``). The experiment's name is the file's.
Nothing is read at import time: :func:`read_experiments` reads the folder when first asked.
"""
import functools
import glob
import os.path as osp
from typing import Dict, List, NamedTuple, Set, Tuple

from mmengine.config import Config

from ..utils.repository import REPO

#: the experiments' definitions: data files, one per experiment (its name is the file's)
EXPERIMENT_DIR = osp.join(REPO, 'configs', 'experiments')


def load_experiments(folder: str = EXPERIMENT_DIR):
    """Read every ``<name>.py`` of ``folder`` (plain data, read with MMEngine's Config).

    Returns ``(experiments, criteria, absolute_criteria, attention_only, attention_probe)``:
    experiment -> ``[(key, label, config)]``; experiment -> ``[(text, key a, key b, metric,
    least a - b)]``; experiment -> ``[(text, key, metric, least mean)]``; the keys trained for
    0 epochs (attention only); key -> probe config. A key's flags hold in every experiment.
    """
    experiments, criteria, absolute, attention_only, probes = {}, {}, {}, set(), {}
    for path in sorted(glob.glob(osp.join(folder, '*.py'))):
        name = osp.splitext(osp.basename(path))[0]
        spec = Config.fromfile(path)
        missing = [k for k in ('variants', 'criteria') if k not in spec]
        if missing:
            raise ValueError(f'{path}: expected the keys variants and criteria, missing {missing}')
        experiments[name] = [(v['key'], v['label'], v['config']) for v in spec.variants]
        criteria[name] = [(c['text'], c['a'], c['b'], c['metric'], float(c['least']))
                          for c in spec.criteria]
        if spec.get('absolute_criteria'):
            absolute[name] = [(c['text'], c['key'], c['metric'], float(c['least']))
                              for c in spec.absolute_criteria]
        for v in spec.variants:
            if v.get('attention_only'):
                attention_only.add(v['key'])
            if v.get('attention_probe'):
                probes[v['key']] = v['attention_probe']
    return experiments, criteria, absolute, attention_only, probes


def load_settings(folder: str = EXPERIMENT_DIR) -> Dict[str, dict]:
    """The methods-comparison settings of every ``<name>.py`` of ``folder``.

    Returns experiment -> ``dict(calibrate, reference, regime, transductive)``: ``calibrate``
    (the file's ``calibrate = True``: every run is calibrated,
    :func:`svip_mm.experiments.calibrated_run.calibrate_run`, and the report is the methods
    table, :func:`svip_mm.experiments.methods_report.write_methods_report`); ``reference``
    (variant key -> the key of the variant it is paired with); ``regime`` (variant key -> its
    regime, ``None`` if the file names none; the report has one table per regime);
    ``transductive`` (the keys marked ``transductive=True``: they read the unseen classes'
    attributes in training).

    The file's ``reference`` is a variant key (the reference of every variant) or a dict
    regime -> key (each variant is paired with its regime's reference, which must be of that
    regime); required when ``calibrate`` is set.
    """
    settings = {}
    for path in sorted(glob.glob(osp.join(folder, '*.py'))):
        name = osp.splitext(osp.basename(path))[0]
        spec = Config.fromfile(path)
        keys = [v['key'] for v in spec.variants]
        regime = {v['key']: v.get('regime') for v in spec.variants}
        calibrate = bool(spec.get('calibrate', False))
        ref = spec.get('reference')
        if ref is None and calibrate:
            raise ValueError(f'{path}: calibrate = True needs reference (a variant key, or a '
                             'dict regime -> variant key) to pair the methods with')
        reference = {}
        if isinstance(ref, str):
            if ref not in keys:
                raise ValueError(f'{path}: reference {ref!r} is not a variant key; expected one '
                                 f'of {keys}')
            reference = {k: ref for k in keys}
        elif ref is not None:
            ref = dict(ref)
            for k in keys:
                if regime[k] not in ref:
                    raise ValueError(f'{path}: variant {k!r} has regime {regime[k]!r}, which '
                                     f'reference does not name; expected one of {sorted(ref)}')
            for r, k in ref.items():
                if k not in keys or regime[k] != r:
                    raise ValueError(f'{path}: reference {r!r}: {k!r} is not a variant of '
                                     f'that regime; expected one of '
                                     f'{[v for v in keys if regime[v] == r]}')
            reference = {k: ref[regime[k]] for k in keys}
        settings[name] = dict(calibrate=calibrate, reference=reference, regime=regime,
                              transductive={v['key'] for v in spec.variants
                                            if v.get('transductive')})
    return settings


class Experiments(NamedTuple):
    """Everything the data files of one folder say (the fields as :func:`load_experiments`
    and :func:`load_settings` return them)."""
    #: experiment -> ``[(key, label, config)]``
    variants: Dict[str, List[Tuple[str, str, str]]]
    #: experiment -> ``[(text, key a, key b, metric, least a - b)]``
    criteria: Dict[str, List[Tuple[str, str, str, str, float]]]
    #: experiment -> ``[(text, key, metric, least mean)]`` (only experiments that have them)
    absolute_criteria: Dict[str, List[Tuple[str, str, str, float]]]
    #: the keys trained for 0 epochs: only their attention is measured
    attention_only: Set[str]
    #: key -> the config its attention is probed with
    attention_probe: Dict[str, str]
    #: experiment -> its methods-comparison settings (:func:`load_settings`)
    settings: Dict[str, dict]


@functools.lru_cache(maxsize=None)
def read_experiments(folder: str = EXPERIMENT_DIR) -> Experiments:
    """The data files of ``folder``, read once per process (they do not change while an
    experiment runs); the callers only read what is returned."""
    return Experiments(*load_experiments(folder), load_settings(folder))
