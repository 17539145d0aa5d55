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
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Dict, FrozenSet, Iterable, List, Mapping, Sequence, Union

__all__ = [
    'PhraseRules', 'get_rules', 'clean_phrase', 'clean_phrases', 'phrase_words', 'DATASET_RULES',
    'CUB_REPLACEMENTS', 'AWA2_REPLACEMENTS', 'SUN_REPLACEMENTS', 'DEFAULT_STOPWORDS',
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
        key = dataset.strip().lower()
        key = {'awa': 'awa2', 'cub200': 'cub', 'cub_200_2011': 'cub'}.get(key, key)
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
