"""Attribute names -> word-vector matrix [K, d] plus a report.

Each attribute name becomes a phrase (:mod:`.phrases`, under the ``'cleaned'``
or the ``'released'`` phrase rules), each word of the phrase is looked up in a
backend (:mod:`.backends`), and the found vectors are summed or averaged.
Words without a vector are listed in the report; an attribute none of whose
words has a vector is an error (:class:`MissingWordVectorError`) unless
``on_missing='zero'`` is passed explicitly, in which case its row is zero, a
warning is issued and the report lists it under ``missing``.
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..utils.finite import check_finite
from .backends import OOV, SUBWORD, WordVectors, load_backend
from .phrases import PhraseRules, _check_names, attribute_words

__all__ = ['embed_attributes', 'save_embeddings', 'report_path_for', 'MissingWordVectorError']


class MissingWordVectorError(ValueError):
    """Raised when attributes have no word with a vector.

    Attributes:
        attributes: ``[(index, name, phrase), ...]`` of the failing attributes.
    """

    def __init__(self, problem: str, attributes: List[Tuple[int, str, str]]):
        self.problem, self.attributes = problem, attributes
        super().__init__(self.describe("pass on_missing='zero'"))

    def describe(self, accept_zero_rows: str) -> str:
        """The message with the way to accept zero rows in the caller's terms (the API's
        argument, or a command-line flag)."""
        return (f'{self.problem}. Add a phrase replacement, use a backend with subwords '
                f'(fasttext), or {accept_zero_rows} to accept zero rows.')


def embed_attributes(names: Sequence[str],
                     backend: Union[str, WordVectors] = 'glove',
                     dataset: Union[str, PhraseRules] = 'generic',
                     reduce: str = 'sum',
                     *,
                     vectors_path: Optional[Union[str, os.PathLike]] = None,
                     on_missing: str = 'error',
                     drop_stopwords: bool = False,
                     l2_normalize: bool = False,
                     phrase_rules: str = 'cleaned') -> Tuple[np.ndarray, Dict]:
    """Embed attribute names as the sum or mean of their words' vectors.

    The vectors of the paper (the released SVIP ``.pkl`` files) are
    ``backend='word2vec-bin'`` with ``vectors_path`` the word2vec GoogleNews
    300-d file (``GoogleNews-vectors-negative300.bin``), ``dataset`` ``'cub'``,
    ``'awa2'`` or ``'sun'``, ``phrase_rules='released'`` and the defaults
    ``reduce='sum'``, ``l2_normalize=False``: the sum of the vectors of the
    words found (a word missing from the vocabulary adds nothing).

    Args:
        names: The K attribute names, in the dataset's attribute order.
        backend: A :class:`~.backends.WordVectors`, or a backend kind
            (``'glove'`` — the packaged GloVe 6B-50d, the default —
            ``'fasttext'``, ``'word2vec-bin'``, ``'text'``) loaded from
            ``vectors_path``; file tables are read only for the needed words.
        dataset: Phrase rules: ``'cub'``, ``'awa2'``, ``'sun'``, ``'generic'``
            or a :class:`~.phrases.PhraseRules` (the last two only with
            ``phrase_rules='cleaned'``).
        reduce: ``'sum'`` or ``'mean'`` over the words that have a vector.
        vectors_path: The vectors file when ``backend`` is a file kind.
        on_missing: ``'error'`` (default) raises :class:`MissingWordVectorError`
            naming every attribute without any word vector; ``'zero'`` writes a
            zero row for them, warns, and lists them in the report.
        drop_stopwords: Drop :data:`~.phrases.DEFAULT_STOPWORDS` from phrases.
        l2_normalize: Scale each (non-zero) row to unit L2 norm.
        phrase_rules: ``'cleaned'`` (default: lower-cased words, the
            dataset's :class:`~.phrases.PhraseRules`) or ``'released'`` (the
            rules of the released SVIP vectors, case kept; see
            :func:`~.phrases.released_phrase`).

    Returns:
        ``(matrix, report)``: float32 array [K, d], and a JSON-serialisable
        dict with the settings, the backend description, and per attribute its
        ``name``, ``phrase``, ``words`` (used), ``subword_words`` (fastText
        vectors built from n-grams, used) and ``oov`` (no vector, skipped);
        plus ``oov_words`` (all, sorted) and ``missing`` (attribute indices
        with a zero row).
    """
    names = _check_names(names)
    if reduce not in ('sum', 'mean'):
        raise ValueError(f"reduce must be 'sum' or 'mean', got {reduce!r}")
    if on_missing not in ('error', 'zero'):
        raise ValueError(f"on_missing must be 'error' or 'zero', got {on_missing!r}")
    rules_name, words_per_attr = attribute_words(names, dataset, phrase_rules,
                                                 drop_stopwords=drop_stopwords)

    if isinstance(backend, str):
        needed = {w for ws in words_per_attr for w in ws}
        backend = load_backend(backend, vectors_path, restrict_to=needed)
    elif vectors_path is not None:
        raise ValueError('vectors_path is only used when backend is given by name')
    if not isinstance(backend, WordVectors):
        raise TypeError(f'backend must be a WordVectors or a backend name, got '
                        f'{type(backend).__name__}')

    dim = int(backend.dim)
    matrix = np.zeros((len(names), dim), dtype=np.float32)
    entries, missing, oov_all = [], [], set()
    cache: Dict[str, Tuple[Optional[np.ndarray], str]] = {}
    for i, (name, words) in enumerate(zip(names, words_per_attr)):
        used, subword, oov, vecs = [], [], [], []
        for w in words:
            if w not in cache:
                cache[w] = backend.lookup(w)
            vec, status = cache[w]
            if status == OOV or vec is None:
                oov.append(w)
                continue
            if vec.shape != (dim,):
                raise ValueError(f'backend {backend.name} returned a vector of shape {vec.shape} '
                                 f'for {w!r}, expected ({dim},)')
            # a NaN in the vectors file would reach the model as a nan context token and be
            # blamed on a loss; name the file and the word instead
            check_finite(vec, f'{_source(backend)}: the vector of the word {w!r} (in attribute '
                         f'{i} {name!r})', axes=('dimension', ))
            used.append(w)
            if status == SUBWORD:
                subword.append(w)
            vecs.append(vec)
        if vecs:
            row = np.sum(vecs, axis=0, dtype=np.float64)
            if reduce == 'mean':
                row /= len(vecs)
            # each word is finite, but a sum of large ones may still overflow the float32 row
            check_finite(row, f'{_source(backend)}: the {reduce} of the vectors of '
                         f'{used} for attribute {i} ({name!r})', axes=('dimension', ))
            matrix[i] = row
        else:
            missing.append(i)
        oov_all.update(oov)
        entries.append({'index': i, 'name': name, 'phrase': ' '.join(words), 'words': used,
                        'subword_words': subword, 'oov': oov})

    if missing:
        listed = '; '.join(f"{i} {names[i]!r} (phrase {entries[i]['phrase']!r})"
                           for i in missing[:20])
        more = f' and {len(missing) - 20} more' if len(missing) > 20 else ''
        msg = (f'{len(missing)} attribute(s) have no word with a vector in {backend.name}: '
               f'{listed}{more}')
        if on_missing == 'error':
            raise MissingWordVectorError(
                msg, [(i, names[i], entries[i]['phrase']) for i in missing])
        warnings.warn(msg + '; their rows are zero (on_missing=zero)', stacklevel=2)

    if l2_normalize:
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        np.divide(matrix, norms, out=matrix, where=norms > 0)

    report = {
        'num_attributes': len(names),
        'dim': dim,
        'dataset_rules': rules_name,
        'phrase_rules': phrase_rules,
        'drop_stopwords': bool(drop_stopwords),
        'reduce': reduce,
        'l2_normalize': bool(l2_normalize),
        'on_missing': on_missing,
        'backend': backend.describe(),
        'oov_words': sorted(oov_all),
        'missing': missing,
        'attributes': entries,
    }
    return matrix, report


def _source(backend: WordVectors) -> str:
    """The backend's name and, when it has one, the file its vectors came from."""
    source = getattr(backend, 'source', None)
    return f'word vectors {backend.name}' + (f' ({source})' if source else '')


def report_path_for(out_path: Union[str, os.PathLike]) -> Path:
    """The JSON report written next to ``out_path``: ``X.npy`` -> ``X.json``."""
    out_path = Path(out_path)
    return out_path.with_suffix('.json')


def save_embeddings(out_path: Union[str, os.PathLike], matrix: np.ndarray,
                    report: Dict) -> Tuple[Path, Path]:
    """Write ``matrix`` to ``out_path`` (``.npy``) and ``report`` as JSON next to it.

    Returns the two paths written.
    """
    out_path = Path(out_path)
    if out_path.suffix.lower() != '.npy':
        raise ValueError(f'output must be a .npy path, got {out_path}')
    out_path.parent.mkdir(parents=True, exist_ok=True)
    np.save(out_path, np.asarray(matrix, dtype=np.float32))
    rep = report_path_for(out_path)
    with open(rep, 'w', encoding='utf-8') as f:
        json.dump(report, f, indent=1, ensure_ascii=False)
        f.write('\n')
    return out_path, rep
