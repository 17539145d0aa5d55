#!/usr/bin/env python
"""Embed a dataset's attribute names as word vectors: ``.npy`` [K, d] + JSON report.

Examples::

    # offline default: the packaged GloVe 6B-50d vectors
    python tools/extract_attribute_embeddings.py --names data/CUB/attributes/attributes.txt \\
        --dataset cub --out work_dirs/cub_glove50.npy
    # a fastText model (subwords cover out-of-vocabulary words), averaged
    python tools/extract_attribute_embeddings.py --names predicates.txt --dataset awa2 \\
        --backend fasttext --vectors cc.en.300.bin --reduce mean --out awa2_ft.npy
    # the vectors of the paper: word2vec GoogleNews 300-d with the released phrase rules
    python tools/extract_attribute_embeddings.py --names data/CUB/attributes/attributes.txt \\
        --dataset cub --backend word2vec-bin --vectors GoogleNews-vectors-negative300.bin \\
        --phrase-rules released --out data/CUB/attribute_vectors.npy

The word2vec ``.bin`` route is the one that matches the paper: the released
SVIP word vectors are word2vec GoogleNews 300-d (``word2vec-google-news-300``),
one vector per attribute = the sum of the vectors of its words (a word missing
from the vocabulary adds nothing; case kept, no normalisation), with per-dataset
phrase rules (``--phrase-rules released``: CUB drops ``has_`` and any bracketed
part and replaces ``spatulate`` -> ``broad``, ``upperparts`` -> ``upper parts``,
``grey`` -> ``gray``; AwA2 splits ``longleg``-style words; SUN removes ``/``;
see ``svip_mm/embeddings/phrases.py``). Keep the defaults ``--reduce sum`` and
no ``--l2-normalize``. The other backends and ``--phrase-rules cleaned`` (the
default: lower-cased words, fitting GloVe 6B) give other vectors.

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
from svip_mm.embeddings.phrases import DATASET_RULES, PHRASE_RULES  # noqa: E402


def parse_args(argv=None):
    """Parse the command line."""
    p = argparse.ArgumentParser(
        description='Embed attribute names (CUB attributes.txt, AwA2 predicates.txt, SUN '
                    'attributes.mat, or one name per line) as summed/averaged word vectors.',
        epilog='The vectors of the paper: --backend word2vec-bin --vectors '
               'GoogleNews-vectors-negative300.bin --phrase-rules released --dataset '
               '{cub,awa2,sun} (with the default --reduce sum, no --l2-normalize): the released '
               'SVIP vectors are sums of word2vec GoogleNews 300-d word vectors.')
    p.add_argument('--names', required=True,
                   help='attribute-name file (.txt numbered or one per line, or .mat cell array)')
    p.add_argument('--mat-key', default=None,
                   help="variable of a .mat names file (default 'attributes' or the only one)")
    p.add_argument('--dataset', default='generic', choices=sorted(DATASET_RULES),
                   help='dataset whose phrase rules apply (default: generic)')
    p.add_argument('--phrase-rules', default='cleaned', choices=PHRASE_RULES,
                   help="cleaned (default): lower-cased words, brackets dropped, run-together "
                        "words split, for lower-cased tables such as GloVe 6B; released: the "
                        "rules of the released SVIP vectors (case kept; CUB spatulate -> broad, "
                        "upperparts -> upper parts, ...), for --dataset cub, awa2 or sun; with "
                        "word2vec GoogleNews .bin they give the paper's vectors")
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
            drop_stopwords=args.drop_stopwords, l2_normalize=args.l2_normalize,
            phrase_rules=args.phrase_rules)
    except MissingWordVectorError as exc:  # the hint in this tool's terms: its flag
        print(f'error: {exc.describe("pass --allow-zero-rows")}', file=sys.stderr)
        return 1
    except (FileNotFoundError, ValueError, KeyError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    report['names_file'] = os.path.abspath(args.names)
    npy, rep = save_embeddings(args.out, matrix, report)
    oov = report['oov_words']
    print(f'{len(names)} attributes -> {npy} {matrix.shape} ({report["backend"]["name"]}, '
          f'{args.reduce}, phrase rules {report["dataset_rules"]}); report {rep}')
    print(f'out-of-vocabulary words ({len(oov)}): {", ".join(oov) if oov else "none"}')
    if report['missing']:
        print(f'zero rows for {len(report["missing"])} attribute(s): {report["missing"]}')
    return 0


if __name__ == '__main__':
    from svip_mm.utils.tool_errors import run_tool
    run_tool(main)
