#!/usr/bin/env python
"""Convert an official SVIP checkpoint + its word-vector pickle into an svip_mm checkpoint.

    python tools/convert_official_checkpoint.py OFFICIAL.pth ATTRIBUTE_W2V.pkl OUT.pth

Writes OUT.pth (``{'meta', 'state_dict'}``, loads with ``torch.load(weights_only=True)``) and
OUT_word_vectors.npy, and prints the model settings to put in a config. The official file is
unpickled UNSAFELY (it contains an argparse Namespace): convert only files you trust.
The class attribute matrix is not part of the official checkpoint; svip_mm takes it from the
dataset (att_splits.mat) when the model is evaluated.

The architecture is read from the tensor shapes and the model it describes is built: every
tensor must have that model's shape, none may be missing or left over (the official
``head.weight`` / ``head.bias``, the ViT's unused classifier, are dropped on purpose).
Otherwise the tool writes nothing and stops with one ``error:`` line naming the keys, their
shapes and the expected ones. Both files are written under temporary names and renamed
only when complete.

The converted file holds no path of the machine it was converted on: ``meta`` names the
official file by its name (and SHA-256), and ``meta['svip_model']['neck']['word_vectors']``
is the file name of OUT_word_vectors.npy, relative to the folder of OUT.pth (the vectors
themselves are also in the state dict, ``neck.word_vectors``).
"""
import argparse
import hashlib
import os
import os.path as osp
import pprint
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from svip_mm.models.official_checkpoint import (OfficialCheckpointError,  # noqa: E402
                                                check_against_model,
                                                convert_official_state,
                                                official_args_to_options,
                                                official_model_settings,
                                                read_official_checkpoint,
                                                read_official_word_vectors)
from svip_mm.utils.atomic_write import write_all_atomic  # noqa: E402


def _fail(message: str):
    print(f'error: {message}', file=sys.stderr)
    sys.exit(1)


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def _write_all(writes):
    """[(path, write(file))]: each to a temporary name next to its path, then all renamed;
    a failure while writing removes the temporary files and renames nothing
    (:func:`svip_mm.utils.atomic_write.write_all_atomic`; ``write`` gets the open file)."""
    def to_file(write):
        def write_path(temp):
            with open(temp, 'wb') as f:
                write(f)
        return write_path

    write_all_atomic([(path, to_file(write)) for path, write in writes])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('official', help='official SVIP checkpoint (.pth with "network")')
    parser.add_argument('word_vectors', help='official attribute word-vector pickle [K, 300]')
    parser.add_argument('out', help='svip_mm checkpoint to write')
    parser.add_argument('--num-heads', type=int, default=12,
                        help='attention heads (not recoverable from weights; ViT-B: 12)')
    parser.add_argument('--force', action='store_true', help='overwrite existing outputs')
    args = parser.parse_args(argv)

    npy_path = osp.splitext(args.out)[0] + '_word_vectors.npy'
    for path in (args.out, npy_path):
        if osp.exists(path) and not args.force:
            _fail(f'{path} exists; pass --force to overwrite it')
    for path in (args.official, args.word_vectors):
        if not osp.isfile(path):
            _fail(f'file not found: {path}')
    try:
        ckpt = read_official_checkpoint(args.official)
        vectors = read_official_word_vectors(args.word_vectors)
        options = official_args_to_options(ckpt.get('args'))
        state, arch = convert_official_state(ckpt['network'], vectors, source=args.official)
        check_against_model(state, arch,
                            official_model_settings(arch, options, args.num_heads, vectors),
                            source=args.official)
    except OfficialCheckpointError as e:
        _fail(str(e))

    epoch = ckpt.get('epoch')
    # no folder in the file: the word vectors by file name, next to the checkpoint
    stored = official_model_settings(arch, options, args.num_heads, osp.basename(npy_path))
    meta = dict(converted_from=osp.basename(args.official),
                converted_from_sha256=_sha256(args.official),
                official_epoch=epoch if isinstance(epoch, (int, str)) or epoch is None
                else str(epoch),  # plain types only: the file loads with weights_only=True
                official_dataset=options['dataset'], svip_model=stored)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    # the .npy first, so that a complete .pth always has its vectors beside it
    _write_all([(npy_path, lambda f: np.save(f, vectors)),
                (args.out, lambda f: torch.save(dict(meta=meta, state_dict=state), f))])
    print(f'wrote {args.out} ({len(state)} tensors) and {npy_path}')
    print('model settings (add num_classes to the head and a data_preprocessor):')
    pprint.pprint(official_model_settings(arch, options, args.num_heads, npy_path),
                  sort_dicts=False)


if __name__ == '__main__':
    from svip_mm.utils.tool_errors import run_tool
    run_tool(main)
