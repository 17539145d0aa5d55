#!/usr/bin/env python
"""Convert an official SVIP checkpoint + its word-vector pickle into an svip_mm checkpoint.

    python tools/convert_official_checkpoint.py OFFICIAL.pth ATTRIBUTE_W2V.pkl OUT.pth

Writes OUT.pth (``{'meta', 'state_dict'}``, loads with ``torch.load(weights_only=True)``) and
OUT_word_vectors.npy, and prints the model settings to put in a config. The official file is
unpickled UNSAFELY (it contains an argparse Namespace): convert only files you trust.
The class attribute matrix is not part of the official checkpoint; svip_mm takes it from the
dataset (att_splits.mat) when the model is evaluated.
"""
import argparse
import os
import os.path as osp
import pprint
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from svip_mm.models.official_checkpoint import (convert_official_state,  # noqa: E402
                                                official_args_to_options,
                                                read_official_checkpoint,
                                                read_official_word_vectors)


def svip_model_settings(arch: dict, options: dict, num_heads: int, word_vectors_path: str):
    """Model config (without num_classes and the data preprocessor) that reproduces the
    official inference path."""
    return dict(
        type='SVIPClassifier',
        backbone=dict(type='SVIPVisionTransformer',
                      arch=dict(embed_dims=arch['embed_dims'], num_layers=arch['num_layers'],
                                num_heads=num_heads),
                      patch_size=arch['patch_size'], img_size=arch['img_size']),
        neck=dict(type='SemanticPatchSelector', in_channels=arch['embed_dims'],
                  num_attributes=arch['num_attributes'], keep_k=options['keep_k'],
                  word_vectors=word_vectors_path, unit_size=arch['unit_size'],
                  hidden_channels=arch['hidden_channels'], context_layout='official',
                  label_grouping='official_raster'),
        head=dict(type='SemanticAttributeHead', num_attributes=arch['num_attributes'],
                  in_channels=arch['embed_dims'], unit_size=arch['unit_size'],
                  pooling=options['pooling'], similarity='dot', scale=5.0, eval_units='all'))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('official', help='official SVIP checkpoint (.pth with "network")')
    parser.add_argument('word_vectors', help='official attribute word-vector pickle [K, 300]')
    parser.add_argument('out', help='svip_mm checkpoint to write')
    parser.add_argument('--num-heads', type=int, default=12,
                        help='attention heads (not recoverable from weights; ViT-B: 12)')
    parser.add_argument('--force', action='store_true', help='overwrite an existing output')
    args = parser.parse_args(argv)

    if osp.exists(args.out) and not args.force:
        sys.exit(f'error: {args.out} exists; pass --force to overwrite it')
    for path in (args.official, args.word_vectors):
        if not osp.isfile(path):
            sys.exit(f'error: file not found: {path}')
    ckpt = read_official_checkpoint(args.official)
    vectors = read_official_word_vectors(args.word_vectors)
    state, arch = convert_official_state(ckpt['network'], vectors)
    options = official_args_to_options(ckpt.get('args'))

    npy_path = osp.splitext(args.out)[0] + '_word_vectors.npy'
    settings = svip_model_settings(arch, options, args.num_heads, npy_path)
    meta = dict(converted_from=osp.abspath(args.official), official_epoch=ckpt.get('epoch'),
                official_dataset=options['dataset'], svip_model=settings)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    np.save(npy_path, vectors)
    torch.save(dict(meta=meta, state_dict=state), args.out)
    print(f'wrote {args.out} ({len(state)} tensors) and {npy_path}')
    print('model settings (add num_classes to the head and a data_preprocessor):')
    pprint.pprint(settings, sort_dicts=False)


if __name__ == '__main__':
    main()
