"""Attribute name -> cleaned phrase, with per-dataset rules.

Attribute names in the zero-shot benchmarks are identifiers, not text:
CUB writes ``has_bill_shape::curved_(up_or_down)``, AwA2 runs words together
(``longleg``, ``meatteeth``) and SUN uses slashes (``rock/stone``). Before the
names can be looked up in a word-vector table they are turned into a phrase of
plain lower-case words:

1. lower-case the name (all shipped rules; the vector tables used here are
   lower-cased, GloVe 6B in particular);
2. parenthesised parts are either dropped (``'drop'``: CUB's size ranges in
   inches, SUN's ``wood (not part of a tree)``) or only their brackets are
   removed (``'unwrap'``);
3. split on ``_``, ``-``, ``::`` (any ``:``), ``/``, ``,``, ``;`` and white space;
4. replace single tokens by the dataset's table (``grey`` -> ``gray``,
   ``longleg`` -> ``long leg``); a replacement may be several words;
5. drop the token ``has`` and the rule's optional stop words.

The tables are plain dictionaries in this module (:data:`CUB_REPLACEMENTS`,
:data:`AWA2_REPLACEMENTS`, :data:`SUN_REPLACEMENTS`) so that what is done to a
name is documented in one place; :func:`get_rules` selects them by name
(``'cub'``, ``'awa2'``, ``'sun'``, ``'generic'``).

Two named sets of phrase rules (:data:`PHRASE_RULES`, chosen with
``phrase_rules=`` in :func:`attribute_words` / ``embed_attributes`` and
``--phrase-rules`` in ``tools/extract_attribute_embeddings.py``):

* ``'cleaned'`` (the default): the steps above, made for lower-cased tables
  such as GloVe 6B.
* ``'released'``: the rules of the released SVIP word vectors (word2vec
  GoogleNews 300-d, built by the authors' ``tools/extract_attribute_w2v_*.py``
  scripts), as recorded in ``docs/method.md``, section 8.2; see
  :func:`released_phrase`. Together with the GoogleNews ``.bin`` file, the
  ``'word2vec-bin'`` backend and ``reduce='sum'`` they give the vectors the
  paper used.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Dict, FrozenSet, Iterable, List, Mapping, Sequence, Tuple, Union

__all__ = [
    'PhraseRules', 'get_rules', 'clean_phrase', 'clean_phrases', 'phrase_words', 'DATASET_RULES',
    'CUB_REPLACEMENTS', 'AWA2_REPLACEMENTS', 'SUN_REPLACEMENTS', 'DEFAULT_STOPWORDS',
    'PHRASE_RULES', 'RELEASED_REPLACEMENTS', 'released_phrase', 'released_words',
    'attribute_words',
]

#: Token separators: ``_``, ``-``, ``:`` (so ``::``), ``/``, ``,``, ``;``, white space.
_SPLIT_RE = re.compile(r'[\s_\-:/,;]+')
#: Innermost parenthesised (or bracketed) group, including the brackets.
_PAREN_RE = re.compile(r'\([^()]*\)|\[[^\[\]]*\]')

#: CUB ``attributes.txt``. ``grey`` -> ``gray`` (AwA2 and most corpora use the
#: American spelling). The two birders' compounds that GloVe 6B lacks are split
#: into their parts (``eyering`` is a ring around the eye, ``eyeline`` a line
#: through it); every other word of the 312 names is in GloVe 6B.
CUB_REPLACEMENTS: Dict[str, str] = {
    'grey': 'gray',
    'eyering': 'eye ring',
    'eyeline': 'eye line',
}

#: AwA2 ``predicates.txt``: words run together by the dataset authors, split
#: into their parts, and two misspellings corrected.
AWA2_REPLACEMENTS: Dict[str, str] = {
    'toughskin': 'tough skin',
    'longleg': 'long leg',
    'longneck': 'long neck',
    'chewteeth': 'chew teeth',
    'meatteeth': 'meat teeth',
    'buckteeth': 'buck teeth',
    'strainteeth': 'strain teeth',
    'newworld': 'new world',
    'oldworld': 'old world',
    'nestspot': 'nest spot',
    'flys': 'flies',
    'quadrapedal': 'quadrupedal',
}

#: SUN ``attributes.mat``: the names are already words once ``/`` and ``-`` are
#: split; only the British/American spelling is unified as for CUB.
SUN_REPLACEMENTS: Dict[str, str] = {
    'grey': 'gray',
}

#: Stop words a user may ask to drop (``PhraseRules(stopwords=DEFAULT_STOPWORDS)``
#: or ``drop_stopwords=True`` in :func:`get_rules`). Not dropped by default: the
#: report shows every word used, and the choice stays the user's.
DEFAULT_STOPWORDS: FrozenSet[str] = frozenset({
    'a', 'an', 'the', 'of', 'or', 'and', 'in', 'on', 'as', 'than', 'to', 'be',
    'being', 'is', 'not', 'things',
})


@dataclass(frozen=True)
class PhraseRules:
    """How to turn an attribute name into a phrase.

    Args:
        name: A label for the report (``'cub'``, ``'awa2'``, ...).
        replacements: Token -> replacement text (may contain several words,
            or be empty to drop the token). Applied after splitting.
        drop_tokens: Tokens removed after replacement; ``has`` by default.
        stopwords: Further tokens removed (empty by default).
        parentheses: ``'drop'`` removes parenthesised parts with their content,
            ``'unwrap'`` removes only the brackets.
        lowercase: Lower-case the name first.
    """

    name: str = 'generic'
    replacements: Mapping[str, str] = field(default_factory=dict)
    drop_tokens: FrozenSet[str] = frozenset({'has'})
    stopwords: FrozenSet[str] = frozenset()
    parentheses: str = 'unwrap'
    lowercase: bool = True

    def __post_init__(self):
        if self.parentheses not in ('drop', 'unwrap'):
            raise ValueError(f"PhraseRules.parentheses must be 'drop' or 'unwrap', "
                             f'got {self.parentheses!r}')


#: The shipped rule sets, selectable by name.
DATASET_RULES: Dict[str, PhraseRules] = {
    'generic': PhraseRules(name='generic'),
    'cub': PhraseRules(name='cub', replacements=CUB_REPLACEMENTS, parentheses='drop'),
    'awa2': PhraseRules(name='awa2', replacements=AWA2_REPLACEMENTS),
    'sun': PhraseRules(name='sun', replacements=SUN_REPLACEMENTS, parentheses='drop'),
}


def _dataset_key(dataset: str) -> str:
    """Normalise a dataset name: case, spaces and the accepted aliases."""
    key = dataset.strip().lower()
    return {'awa': 'awa2', 'cub200': 'cub', 'cub_200_2011': 'cub'}.get(key, key)


def get_rules(dataset: Union[str, PhraseRules] = 'generic', *,
              drop_stopwords: bool = False) -> PhraseRules:
    """Return the :class:`PhraseRules` for ``dataset``.

    Args:
        dataset: ``'cub'``, ``'awa2'``, ``'sun'`` or ``'generic'`` (case
            insensitive; ``'awa'`` is accepted for AwA2), or a
            :class:`PhraseRules` returned unchanged (apart from stop words).
        drop_stopwords: Also drop :data:`DEFAULT_STOPWORDS`.
    """
    if isinstance(dataset, PhraseRules):
        rules = dataset
    elif isinstance(dataset, str):
        key = _dataset_key(dataset)
        if key not in DATASET_RULES:
            raise ValueError(f'unknown dataset {dataset!r} for attribute phrase rules; '
                             f'expected one of {sorted(DATASET_RULES)} or a PhraseRules')
        rules = DATASET_RULES[key]
    else:
        raise TypeError(f'dataset must be a name or a PhraseRules, got {type(dataset).__name__}')
    if drop_stopwords:
        rules = replace(rules, stopwords=frozenset(rules.stopwords) | DEFAULT_STOPWORDS)
    return rules


def phrase_words(name: str, rules: Union[str, PhraseRules] = 'generic') -> List[str]:
    """Split one attribute name into its cleaned words (see the module docstring).

    May return an empty list (e.g. for the name ``'has'``); callers decide
    whether that is an error.
    """
    if not isinstance(name, str):
        raise TypeError(f'attribute name must be a string, got {type(name).__name__}: {name!r}')
    rules = get_rules(rules)
    text = name.lower() if rules.lowercase else name
    if rules.parentheses == 'drop':
        # Repeat so nested groups go too.
        previous = None
        while previous != text:
            previous, text = text, _PAREN_RE.sub(' ', text)
    text = re.sub(r'[()\[\]]', ' ', text)
    words: List[str] = []
    for token in _SPLIT_RE.split(text):
        if not token:
            continue
        key = token.lower() if rules.lowercase else token
        if key in rules.replacements:
            words.extend(w for w in _SPLIT_RE.split(rules.replacements[key]) if w)
        else:
            words.append(token)
    removed = set(rules.drop_tokens) | set(rules.stopwords)
    return [w for w in words if (w.lower() if rules.lowercase else w) not in removed]


def clean_phrase(name: str, rules: Union[str, PhraseRules] = 'generic') -> str:
    """Return the cleaned phrase of one attribute name, words joined by spaces.

    >>> clean_phrase('has_bill_shape::curved_(up_or_down)', 'cub')
    'bill shape curved'
    >>> clean_phrase('meatteeth', 'awa2')
    'meat teeth'
    """
    return ' '.join(phrase_words(name, rules))


def clean_phrases(names: Iterable[str], rules: Union[str, PhraseRules] = 'generic') -> List[str]:
    """:func:`clean_phrase` over a sequence of names."""
    rules = get_rules(rules)
    return [clean_phrase(n, rules) for n in names]


def _check_names(names: Sequence[str]) -> List[str]:
    """Return ``names`` as a list of strings, or raise naming the bad entry."""
    if isinstance(names, str):
        raise TypeError('names must be a sequence of attribute names, not a single string')
    out = []
    for i, n in enumerate(names):
        if not isinstance(n, str):
            raise TypeError(f'attribute {i}: expected a string name, got {type(n).__name__}: {n!r}')
        out.append(n)
    if not out:
        raise ValueError('no attribute names given')
    return out


# --------------------------------------------------------------------------- released rules
#: The named phrase-rule sets: ``'cleaned'`` (this module's :class:`PhraseRules`,
#: the default) and ``'released'`` (those of the released SVIP word vectors).
PHRASE_RULES = ('cleaned', 'released')

#: The replacements of the released scripts, per dataset, applied in this order
#: to the phrase text (``docs/method.md``, section 8.2). Unlike the cleaned tables
#: they keep AwA2's ``flys``, ``buckteeth``, ``longneck`` and CUB's ``eyering``,
#: ``eyeline`` as they are.
RELEASED_REPLACEMENTS: Dict[str, Tuple[Tuple[str, str], ...]] = {
    'cub': (('spatulate', 'broad'), ('upperparts', 'upper parts'), ('grey', 'gray')),
    'awa2': (('newworld', 'new world'), ('oldworld', 'old world'), ('nestspot', 'nest spot'),
             ('toughskin', 'tough skin'), ('longleg', 'long leg'), ('chewteeth', 'chew teeth'),
             ('meatteeth', 'meat teeth'), ('strainteeth', 'strain teeth'),
             ('quadrapedal', 'quadrupedal')),
    'sun': (('rockstone', 'rock stone'), ('dirtsoil', 'dirt soil'), ('sunsunny', 'sun sunny'),
            ('electricindoor', 'electric indoor'), ('semi-enclosed', 'semi enclosed'),
            ('far-away', 'faraway')),
}


def _released_key(dataset: Union[str, PhraseRules]) -> str:
    if not isinstance(dataset, str):
        raise ValueError("phrase_rules='released' needs the dataset by name ('cub', 'awa2' or "
                         f"'sun'), got a {type(dataset).__name__}: {dataset!r}")
    key = _dataset_key(dataset)
    if key not in RELEASED_REPLACEMENTS:
        raise ValueError(f"phrase_rules='released' exists for the datasets "
                         f"{sorted(RELEASED_REPLACEMENTS)}, got dataset {dataset!r}")
    return key


def released_phrase(name: str, dataset: str) -> str:
    """The phrase the released SVIP scripts build from one attribute name.

    Case is kept (GoogleNews word2vec is case sensitive) and nothing else is
    cleaned. Per dataset (``docs/method.md``, section 8.2):

    * ``'cub'`` (``has_bill_shape::curved_(up_or_down)``): ``::``, ``_`` and
      ``-`` become spaces, everything from ``(`` on is dropped, then the first
      4 characters (``has ``), then :data:`RELEASED_REPLACEMENTS` are applied
      -> ``'bill shape curved '``;
    * ``'awa2'`` (a predicate such as ``longleg``): only the replacements;
    * ``'sun'`` (``rock/stone``, ``sailing/ boating``): ``/`` is removed, then
      the replacements (so ``wood (not part of a tree)`` keeps its brackets
      and ``man-made`` its hyphen).

    The replacements are substring replacements of the phrase text (for the
    names of the three benchmarks each one matches a whole word).

    >>> released_phrase('has_upperparts_color::grey', 'cub')
    'upper parts color gray'
    """
    if not isinstance(name, str):
        raise TypeError(f'attribute name must be a string, got {type(name).__name__}: {name!r}')
    key = _released_key(dataset)
    text = name
    if key == 'cub':
        text = text.replace('::', ' ').replace('_', ' ').replace('-', ' ')
        # the released script cuts 4 characters blindly; a name without the
        # 'has_' prefix is not a CUB attribute and would lose part of a word
        if not text.startswith('has '):
            raise ValueError(f"CUB attribute name {name!r} does not start with 'has_'; the "
                             "released CUB rules drop that prefix (expected e.g. "
                             "'has_bill_shape::dagger')")
        text = text.split('(', 1)[0][4:]
    elif key == 'sun':
        text = text.replace('/', '')
    for old, new in RELEASED_REPLACEMENTS[key]:
        text = text.replace(old, new)
    return text


def released_words(name: str, dataset: str) -> List[str]:
    """The words of :func:`released_phrase`: split on single spaces.

    The released scripts drop a trailing empty word; any other empty word
    (two spaces in a row) is dropped here too: it has no vector, and a word
    without a vector adds nothing to the released sum either.
    """
    return [w for w in released_phrase(name, dataset).split(' ') if w]


def attribute_words(names: Sequence[str], dataset: Union[str, PhraseRules] = 'generic',
                    phrase_rules: str = 'cleaned', *,
                    drop_stopwords: bool = False) -> Tuple[str, List[List[str]]]:
    """Words of each attribute name under the named phrase rules.

    Args:
        names: Attribute names.
        dataset: ``'cub'``, ``'awa2'``, ``'sun'`` (``'generic'`` or a
            :class:`PhraseRules` too for ``'cleaned'``).
        phrase_rules: ``'cleaned'`` (:func:`phrase_words`) or ``'released'``
            (:func:`released_words`).
        drop_stopwords: Only with ``'cleaned'``; the released rules keep every word.

    Returns:
        ``(label, words)``: a label of the rules for reports (``'cub'``,
        ``'released-cub'``, ...) and one list of words per name.
    """
    names = _check_names(names)
    if phrase_rules == 'cleaned':
        rules = get_rules(dataset, drop_stopwords=drop_stopwords)
        return rules.name, [phrase_words(n, rules) for n in names]
    if phrase_rules == 'released':
        if drop_stopwords:
            raise ValueError("drop_stopwords=True applies to phrase_rules='cleaned'; the "
                             "released rules keep every word")
        key = _released_key(dataset)
        return f'released-{key}', [released_words(n, key) for n in names]
    raise ValueError(f'unknown phrase_rules {phrase_rules!r}; expected one of {list(PHRASE_RULES)}')
