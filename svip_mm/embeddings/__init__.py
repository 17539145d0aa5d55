"""Attribute word embeddings for zero-shot learning.

Attribute names (CUB ``has_bill_shape::dagger``, AwA2 ``meatteeth``, SUN
``rock/stone``) are turned into phrases (``phrase_rules='cleaned'``, the
default, or ``'released'``, the rules of the released SVIP word vectors), their
words looked up in a word-vector backend (the packaged GloVe 6B-50d by default;
fastText, word2vec binary or text files), and summed or averaged into a [K, d]
matrix that the model's context token reads. See :func:`embed_attributes` and
``tools/extract_attribute_embeddings.py``. The paper's vectors: word2vec
GoogleNews 300-d (``backend='word2vec-bin'``), ``phrase_rules='released'``,
``reduce='sum'``.
"""
from .backends import (BACKENDS, ArrayWordVectors, FastTextWordVectors, WordVectors,
                       glove_6b_50d_files, load_backend, load_fasttext, load_glove_6b_50d,
                       load_text_vectors, load_word2vec_binary)
from .embed import MissingWordVectorError, embed_attributes, report_path_for, save_embeddings
from .names import read_attribute_names
from .phrases import (AWA2_REPLACEMENTS, CUB_REPLACEMENTS, DATASET_RULES, DEFAULT_STOPWORDS,
                      PHRASE_RULES, RELEASED_REPLACEMENTS, SUN_REPLACEMENTS, PhraseRules,
                      attribute_words, clean_phrase, clean_phrases, get_rules, phrase_words,
                      released_phrase, released_words)

__all__ = [
    'embed_attributes', 'save_embeddings', 'report_path_for', 'MissingWordVectorError',
    'read_attribute_names',
    'PhraseRules', 'get_rules', 'clean_phrase', 'clean_phrases', 'phrase_words',
    'DATASET_RULES', 'CUB_REPLACEMENTS', 'AWA2_REPLACEMENTS', 'SUN_REPLACEMENTS',
    'DEFAULT_STOPWORDS', 'PHRASE_RULES', 'RELEASED_REPLACEMENTS', 'released_phrase',
    'released_words', 'attribute_words',
    'WordVectors', 'ArrayWordVectors', 'FastTextWordVectors', 'BACKENDS', 'load_backend',
    'load_glove_6b_50d', 'glove_6b_50d_files', 'load_text_vectors', 'load_word2vec_binary',
    'load_fasttext',
]
