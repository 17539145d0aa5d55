"""Files a config needs before its model can be built: generated data and word vectors.

MMEngine builds the model before any dataset, and SVIP's neck reads the attribute word
vectors when it is built, so a config that trains on generated data lists the steps in
``data_preparation``; ``tools/train.py``, ``tools/test.py`` and the tutorials run them first.
Each step is idempotent: it writes nothing when its output is already there.

    data_preparation = [
        dict(type='synthetic_zsl'),  # the dataset of train_dataloader, generated if absent
        dict(type='attribute_embeddings', names_file='data/synthetic_zsl/attributes/'
             'attributes.txt', out='data/synthetic_zsl/attribute_glove50.npy',
             backend='glove', dataset='cub'),
    ]

``pretrained_backbone`` (:mod:`svip_mm.engine.pretrained_backbone`) pretrains the backbone
with another config (a ``tools/train.py`` subprocess) and writes its weights to ``out``; it
runs again only when that config or its seed changes.
"""
import os.path as osp
from typing import Dict, List

from mmengine.dist import barrier, get_dist_info
from mmengine.logging import print_log


_SYNTHETIC_KEYS = ('preset', 'seed', 'image_size', 'clutter', 'on_mismatch', 'workers')


def _synthetic(step: Dict, cfg) -> str:
    """Prepare the ``ZSLSynthetic`` data of ``step['dataloader']`` (default: the training
    one) with that dataset's own arguments, so the two can never disagree.

    As :class:`~svip_mm.datasets.ZSLSynthetic` does (through
    :func:`~svip_mm.datasets.ensure_synthetic_zsl`): an absent folder is
    generated; a dataset already there is used as it is, its missing files written again; one
    that differs from a generator parameter the config gives is refused with an error listing
    the differences, and replaced (only the generator's files) only with an explicit
    ``on_mismatch='regenerate'``. Nothing the generator did not write is ever deleted.
    """
    from svip_mm.datasets.synthetic_dataset import default_synthetic_root
    from svip_mm.datasets.synthetic_zsl import ensure_synthetic_zsl
    loader = step.get('dataloader', 'train_dataloader')
    ds = dict((cfg.get(loader) or {}).get('dataset') or {})
    if ds.get('type') != 'ZSLSynthetic':
        raise ValueError(f"data_preparation step synthetic_zsl needs {loader}.dataset of type "
                         f"'ZSLSynthetic', found {ds.get('type')!r}")
    # only the parameters the config gives: the others are read from an existing dataset
    args = {k: ds[k] for k in _SYNTHETIC_KEYS if ds.get(k) is not None}
    args.update(ds.get('generator_overrides') or {})
    root = ds.get('data_root') or default_synthetic_root(
        ds.get('preset'), ds.get('seed'), ds.get('clutter'))
    return str(ensure_synthetic_zsl(root, **args))


def _attribute_embeddings(step: Dict, cfg) -> str:
    from svip_mm.embeddings import embed_attributes, read_attribute_names, save_embeddings
    out = step['out']
    if osp.isfile(out):
        return out
    names = read_attribute_names(step['names_file'])
    matrix, report = embed_attributes(names, backend=step.get('backend', 'glove'),
                                      dataset=step.get('dataset', 'generic'),
                                      reduce=step.get('reduce', 'sum'),
                                      vectors_path=step.get('vectors_path'),
                                      phrase_rules=step.get('phrase_rules', 'cleaned'),
                                      l2_normalize=step.get('l2_normalize', False))
    save_embeddings(out, matrix, report)
    return out


def _pretrained_backbone(step: Dict, cfg) -> str:
    """Pretrain a backbone with another config and keep its weights (cached by the config's
    digest); see :mod:`svip_mm.engine.pretrained_backbone`."""
    from .pretrained_backbone import prepare_pretrained_backbone
    return prepare_pretrained_backbone(step, cfg)


STEPS = {'synthetic_zsl': _synthetic, 'attribute_embeddings': _attribute_embeddings,
         'pretrained_backbone': _pretrained_backbone}


def prepare_data(cfg) -> List[str]:
    """Run the ``data_preparation`` steps of a config (rank 0 first, the others wait).

    Returns the outputs (paths) of the steps.
    """
    rank, world = get_dist_info()
    outputs = []
    for phase in ((0, ), range(1, world)) if world > 1 else ((0, ), ):
        if rank in phase:
            outputs = []
            for step in cfg.get('data_preparation') or []:
                step = dict(step)
                kind = step.pop('type', None)
                if kind not in STEPS:
                    raise ValueError(f'unknown data_preparation step {kind!r}; expected one of '
                                     f'{sorted(STEPS)}')
                outputs.append(STEPS[kind](step, cfg))
                print_log(f'data preparation: {kind} -> {outputs[-1]}', logger='current')
        if world > 1:
            barrier()
    return outputs
