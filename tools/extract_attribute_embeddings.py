#!/usr/bin/env python
"""Embed a dataset's attribute names as word vectors: ``.npy`` [K, d] + JSON report.

Examples::

    # offline default: the packaged GloVe 6B-50d vectors
    python tools/extract_attribute_embeddings.py --names data/CUB/attributes/attributes.txt \\
        --dataset cub --out work_dirs/cub_glove50.npy
    # a fastText model (subwords cover out-of-vocabulary words), averaged
    python tools/extract_attribute_embeddings.py --names predicates.txt --dataset awa2 \\
        --backend fasttext --vectors cc.en.300.bin --reduce mean --out awa2_ft.npy

The report (``OUT.json`` next to ``OUT.npy``) lists each attribute's phrase, the
words used and the out-of-vocabulary words. An attribute without any word
vector stops the tool with an error naming it, unless ``--allow-zero-rows``.
"""
import argparse
import os
import sys

# Usable from a fresh clone without installing or setting PYTHONPATH.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from svip_mm.embeddings.backends import BACKENDS  # noqa: E402
from svip_mm.embeddings.embed import (MissingWordVectorError, embed_attributes,  # noqa: E402
                                      save_embeddings)
from svip_mm.embeddings.names import read_attribute_names  # noqa: E402
from svip_mm.embeddings.phrases import DATASET_RULES  # noqa: E402


def parse_args(argv=None):
    """Parse the command line."""
    p = argparse.ArgumentParser(
        description='Embed attribute names (CUB attributes.txt, AwA2 predicates.txt, SUN '
                    'attributes.mat, or one name per line) as summed/averaged word vectors.')
    p.add_argument('--names', required=True,
                   help='attribute-name file (.txt numbered or one per line, or .mat cell array)')
    p.add_argument('--mat-key', default=None,
                   help="variable of a .mat names file (default 'attributes' or the only one)")
    p.add_argument('--dataset', default='generic', choices=sorted(DATASET_RULES),
                   help='phrase-cleaning rules (default: generic)')
    p.add_argument('--backend', default='glove', choices=BACKENDS,
                   help='word vectors: glove (packaged GloVe 6B-50d, offline default), '
                        'fasttext (.bin), word2vec-bin, text (GloVe/word2vec/.vec text)')
    p.add_argument('--vectors', default=None,
                   help='vectors file for fasttext, word2vec-bin and text backends')
    p.add_argument('--reduce', default='sum', choices=('sum', 'mean'),
                   help='how to combine the words of a phrase (default: sum)')
    p.add_argument('--drop-stopwords', action='store_true',
                   help='drop common stop words (a, the, of, or, ...) from phrases')
    p.add_argument('--l2-normalize', action='store_true',
                   help='scale each row to unit L2 norm')
    p.add_argument('--allow-zero-rows', action='store_true',
                   help='write a zero row (with a warning) for attributes without any word '
                        'vector instead of failing')
    p.add_argument('--out', required=True, help='output .npy path; the report goes to OUT.json')
    return p.parse_args(argv)


def main(argv=None) -> int:
    """Run the extraction; return the process exit code."""
    args = parse_args(argv)
    if not args.out.lower().endswith('.npy'):
        print(f'error: --out must end in .npy, got {args.out}', file=sys.stderr)
        return 2
    if args.backend == 'glove' and args.vectors is not None:
        print("error: --backend glove uses the packaged GloVe 6B-50d; for a GloVe text file "
              'use --backend text --vectors FILE', file=sys.stderr)
        return 2
    if args.backend != 'glove' and args.vectors is None:
        print(f'error: --backend {args.backend} needs --vectors PATH', file=sys.stderr)
        return 2
    try:
        names = read_attribute_names(args.names, key=args.mat_key)
        matrix, report = embed_attributes(
            names, backend=args.backend, dataset=args.dataset, reduce=args.reduce,
            vectors_path=args.vectors,
            on_missing='zero' if args.allow_zero_rows else 'error',
            drop_stopwords=args.drop_stopwords, l2_normalize=args.l2_normalize)
    except (FileNotFoundError, ValueError, KeyError, MissingWordVectorError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    report['names_file'] = os.path.abspath(args.names)
    npy, rep = save_embeddings(args.out, matrix, report)
    oov = report['oov_words']
    print(f'{len(names)} attributes -> {npy} {matrix.shape} ({report["backend"]["name"]}, '
          f'{args.reduce}); report {rep}')
    print(f'out-of-vocabulary words ({len(oov)}): {", ".join(oov) if oov else "none"}')
    if report['missing']:
        print(f'zero rows for {len(report["missing"])} attribute(s): {report["missing"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
