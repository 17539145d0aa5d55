"""Attribute groups of the ZSL benchmarks (used e.g. by the attribute-decorrelation loss).

A grouping is a list of ``[group_name, [attribute indices]]`` covering every attribute
exactly once; :func:`group_ids` turns it into an int64 [K] array of group indices.

Where the groups come from:

- **CUB** (and any dataset whose names follow CUB's ``has_x::value`` format): the part of
  the name before ``::`` is the group, e.g. ``has_bill_shape::dagger`` -> ``has_bill_shape``;
  CUB's 312 attributes give 28 groups. This is the generic ``'prefix'`` rule.
- **AwA2**: the 85 predicates have no structure in their names; :data:`AWA2_GROUPS` sorts
  them into 9 semantic groups (colour, texture, shape, body parts, behaviour, nutrition,
  activity, habitat, character), the grouping used by attribute-prototype work on AwA2.
  It differs from the released SVIP grouping (below) in two predicates: ``smelly`` is put
  with the character predicates and ``newworld`` with the other geographic/habitat
  predicates, not with nutrition.
- **SUN**: the 102 SUN attributes come in the four types of the SUN attribute database
  (Patterson & Hays): functions/affordances (36), materials (38), surface properties
  (13, lighting included) and spatial envelope (15), stored contiguously in that order;
  :data:`SUN_GROUPS` lists them.

- **Released grouping** (rules ``'awa2_released'``, ``'sun_released'``; the default of the
  AwA2 / SUN configs that reproduce the paper): the groups of the released SVIP code's
  ``get_attr_group``, by index. AwA2: the same 9 groups except that ``smelly`` (33) is a body
  part (body parts = 18-33, 44, 45) and ``newworld`` (62) is with nutrition (51-62), not with
  habitat. SUN: {0-35}, {36-73, 80, 99}, {74-79, 81-84}, {85-98, 100, 101}, i.e. the four
  types above except that ``sterile`` (80) and ``scary`` (99) are with the materials and
  ``warm`` (85) and ``cold`` (86) with the spatial envelope. For CUB the released code lists 28
  contiguous index ranges that are exactly the ``'prefix'`` groups, so ``'prefix'`` is CUB's
  released grouping too.

The AwA2 and SUN tables are positional (attribute i of the dataset is attribute i of the
table); the names in the tables document them and are compared with the dataset's names.
"""
import re
import warnings
from typing import Dict, List, Sequence, Tuple, Union

import numpy as np

__all__ = [
    'AWA2_PREDICATES', 'AWA2_GROUPS', 'AWA2_GROUPS_RELEASED', 'SUN_ATTRIBUTES', 'SUN_GROUPS',
    'SUN_GROUPS_RELEASED', 'groups_from_prefix', 'groups_from_table', 'group_ids',
    'resolve_attribute_groups'
]

# The 85 AwA2 predicates in the order of predicates.txt (and of the rows of xlsa17 ``att``).
AWA2_PREDICATES: Tuple[str, ...] = (
    'black', 'white', 'blue', 'brown', 'gray', 'orange', 'red', 'yellow', 'patches', 'spots',
    'stripes', 'furry', 'hairless', 'toughskin', 'big', 'small', 'bulbous', 'lean', 'flippers',
    'hands', 'hooves', 'pads', 'paws', 'longleg', 'longneck', 'tail', 'chewteeth', 'meatteeth',
    'buckteeth', 'strainteeth', 'horns', 'claws', 'tusks', 'smelly', 'flys', 'hops', 'swims',
    'tunnels', 'walks', 'fast', 'slow', 'strong', 'weak', 'muscle', 'bipedal', 'quadrapedal',
    'active', 'inactive', 'nocturnal', 'hibernate', 'agility', 'fish', 'meat', 'plankton',
    'vegetation', 'insects', 'forager', 'grazer', 'hunter', 'scavenger', 'skimmer', 'stalker',
    'newworld', 'oldworld', 'arctic', 'coastal', 'desert', 'bush', 'plains', 'forest', 'fields',
    'jungle', 'mountains', 'ocean', 'ground', 'water', 'tree', 'cave', 'fierce', 'timid',
    'smart', 'group', 'solitary', 'nestspot', 'domestic')

# 9 AwA2 groups, by predicate name (8 + 6 + 4 + 17 + 5 + 11 + 10 + 16 + 8 = 85).
AWA2_GROUPS: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ('color', ('black', 'white', 'blue', 'brown', 'gray', 'orange', 'red', 'yellow')),
    ('texture', ('patches', 'spots', 'stripes', 'furry', 'hairless', 'toughskin')),
    ('shape', ('big', 'small', 'bulbous', 'lean')),
    ('body_parts', ('flippers', 'hands', 'hooves', 'pads', 'paws', 'longleg', 'longneck', 'tail',
                    'chewteeth', 'meatteeth', 'buckteeth', 'strainteeth', 'horns', 'claws',
                    'tusks', 'bipedal', 'quadrapedal')),
    ('behaviour', ('active', 'inactive', 'nocturnal', 'hibernate', 'agility')),
    ('nutrition', ('fish', 'meat', 'plankton', 'vegetation', 'insects', 'forager', 'grazer',
                   'hunter', 'scavenger', 'skimmer', 'stalker')),
    ('activity', ('flys', 'hops', 'swims', 'tunnels', 'walks', 'fast', 'slow', 'strong', 'weak',
                  'muscle')),
    ('habitat', ('newworld', 'oldworld', 'arctic', 'coastal', 'desert', 'bush', 'plains',
                 'forest', 'fields', 'jungle', 'mountains', 'ocean', 'ground', 'water', 'tree',
                 'cave')),
    ('character', ('smelly', 'fierce', 'timid', 'smart', 'group', 'solitary', 'nestspot',
                   'domestic')),
)

# The 102 SUN attributes in the order of SUN's attributes.mat (punctuation may differ).
SUN_ATTRIBUTES: Tuple[str, ...] = (
    # functions / affordances (36)
    'sailing/boating', 'driving', 'biking', 'transporting things or people', 'sunbathing',
    'vacationing/touring', 'hiking', 'climbing', 'camping', 'reading', 'studying/learning',
    'teaching/training', 'research', 'diving', 'swimming', 'bathing', 'eating', 'cleaning',
    'socializing', 'congregating', 'waiting in line/queuing', 'competing', 'sports', 'exercise',
    'playing', 'gaming', 'spectating/being in an audience', 'farming', 'constructing/building',
    'shopping', 'medical activity', 'working', 'using tools', 'digging', 'conducting business',
    'praying',
    # materials (38)
    'fencing', 'railing', 'wire', 'railroad', 'trees', 'grass', 'vegetation', 'shrubbery',
    'foliage', 'leaves', 'flowers', 'asphalt', 'pavement', 'shingles', 'carpet', 'brick',
    'tiles', 'concrete', 'metal', 'paper', 'wood (not part of a tree)', 'vinyl/linoleum',
    'rubber/plastic', 'cloth', 'sand', 'rock/stone', 'dirt/soil', 'marble', 'glass',
    'waves/surf', 'ocean', 'running water', 'still water', 'ice', 'snow', 'clouds', 'smoke',
    'fire',
    # surface properties, lighting included (13)
    'natural light', 'direct sun/sunny', 'electric/indoor lighting', 'aged/worn', 'glossy',
    'matte', 'sterile', 'moist/damp', 'dry', 'dirty', 'rusty', 'warm', 'cold',
    # spatial envelope (15)
    'natural', 'man-made', 'open area', 'semi-enclosed area', 'enclosed area',
    'far-away horizon', 'no horizon', 'rugged scene', 'mostly vertical components',
    'mostly horizontal components', 'symmetrical', 'cluttered space', 'scary', 'soothing',
    'stressful')

SUN_GROUPS: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ('functions', SUN_ATTRIBUTES[0:36]),
    ('materials', SUN_ATTRIBUTES[36:74]),
    ('surface_properties', SUN_ATTRIBUTES[74:87]),
    ('spatial_envelope', SUN_ATTRIBUTES[87:102]),
)



def _by_index(names: Tuple[str, ...], groups) -> Tuple[Tuple[str, Tuple[str, ...]], ...]:
    # The released code states its groups as index lists; store them as names like the
    # semantic tables so that groups_from_table serves both.
    return tuple((g, tuple(names[i] for i in idx)) for g, idx in groups)


# The released SVIP code's AwA2 grouping (its get_attr_group; group names ours, it numbers
# them 1-9). Body parts 18-33 (with smelly, 33), 44, 45 are as in issue 13; newworld (62) in
# nutrition (51-62) is taken from a public copy of get_attr_group that agrees with the issue
# on every other group, and is the difference the semantic table above was written to avoid.
AWA2_GROUPS_RELEASED = _by_index(AWA2_PREDICATES, (
    ('color', range(0, 8)),
    ('texture', range(8, 14)),
    ('shape', range(14, 18)),
    ('body_parts', [*range(18, 34), 44, 45]),
    ('activity', range(34, 44)),
    ('behaviour', range(46, 51)),
    ('nutrition', range(51, 63)),
    ('habitat', range(63, 78)),
    ('character', range(78, 85)),
))

# The released SVIP code's SUN grouping: the four types, but sterile (80) and scary (99) with
# the materials, warm (85) and cold (86) with the spatial envelope.
SUN_GROUPS_RELEASED = _by_index(SUN_ATTRIBUTES, (
    ('functions', range(0, 36)),
    ('materials', [*range(36, 74), 80, 99]),
    ('surface_properties', [*range(74, 80), *range(81, 85)]),
    ('spatial_envelope', [*range(85, 99), 100, 101]),
))

_TABLES = {
    'awa2': (AWA2_PREDICATES, AWA2_GROUPS),
    'sun': (SUN_ATTRIBUTES, SUN_GROUPS),
    'awa2_released': (AWA2_PREDICATES, AWA2_GROUPS_RELEASED),
    'sun_released': (SUN_ATTRIBUTES, SUN_GROUPS_RELEASED),
}

Groups = List[List[Union[str, List[int]]]]


def _norm(name: str) -> str:
    # Compare names without case, spaces or punctuation ('sailing/ boating' == 'sailing/boating').
    return re.sub(r'[^a-z0-9]', '', name.lower())


def groups_from_prefix(names: Sequence[str], sep: str = '::') -> Groups:
    """Group CUB-format names (``has_bill_shape::dagger``) by the part before ``sep``.

    Groups are ordered by first appearance. A name without ``sep`` is its own group.
    """
    order: Dict[str, List[int]] = {}
    for i, name in enumerate(names):
        key = name.split(sep, 1)[0] if sep in name else name
        order.setdefault(key, []).append(i)
    return [[key, idx] for key, idx in order.items()]


def groups_from_table(table: str, names: Sequence[str]) -> Groups:
    """Group the attributes of AwA2 or SUN by the tables above.

    Args:
        table: ``'awa2'`` / ``'sun'`` (semantic tables) or ``'awa2_released'`` /
            ``'sun_released'`` (the released SVIP code's grouping).
        names: the dataset's K attribute names, in the order of ``att``.

    Raises:
        ValueError: K differs from the table's attribute count.
    """
    canonical, table_groups = _TABLES[table]
    if len(names) != len(canonical):
        raise ValueError(f'the {table} attribute-group table has {len(canonical)} attributes, '
                         f'the dataset has {len(names)}; expected {len(canonical)} attribute '
                         'names (or choose another attribute_groups rule)')
    differ = [(i, n, c) for i, (n, c) in enumerate(zip(names, canonical)) if _norm(n) != _norm(c)]
    if differ:
        # Positional tables stay valid for a renamed file, but say so loudly.
        shown = ', '.join(f'#{i}: {n!r} (table: {c!r})' for i, n, c in differ[:5])
        warnings.warn(f'{len(differ)} attribute names differ from the {table} group table; '
                      f'grouping by position anyway. First: {shown}')
    position = {name: i for i, name in enumerate(canonical)}
    return [[group, [position[n] for n in members]] for group, members in table_groups]


def group_ids(groups: Groups, num_attributes: int) -> np.ndarray:
    """Turn ``[[name, [indices]], ...]`` into an int64 [K] array of group indices.

    Raises:
        ValueError: an index out of range, or an attribute in no group or in two groups.
    """
    ids = np.full(num_attributes, -1, dtype=np.int64)
    for g, (name, members) in enumerate(groups):
        for i in members:
            if not 0 <= int(i) < num_attributes:
                raise ValueError(f'attribute group {name!r}: index {i} out of range '
                                 f'[0, {num_attributes})')
            if ids[i] >= 0:
                raise ValueError(f'attribute {i} is in two groups: {groups[ids[i]][0]!r} and '
                                 f'{name!r}; expected each attribute in exactly one group')
            ids[i] = g
    missing = np.flatnonzero(ids < 0)
    if missing.size:
        raise ValueError(f'{missing.size} attributes are in no group (first: '
                         f'{missing[:10].tolist()}); expected every attribute in one group')
    return ids


def resolve_attribute_groups(spec, names: Sequence[str]) -> Tuple[Groups, np.ndarray]:
    """Build the attribute groups for a dataset.

    Args:
        spec: how to group:
            ``'prefix'`` (or ``'cub'``): the CUB name rule (:func:`groups_from_prefix`);
            ``'awa2'`` / ``'sun'``: the semantic tables of this module;
            ``'awa2_released'`` / ``'sun_released'``: the released SVIP code's grouping;
            ``'single'``: every attribute its own group;
            ``'auto'``: ``'prefix'`` if every name contains ``::``, else ``'single'``;
            a list ``[[name, [indices]], ...]`` or a dict ``{name: [indices]}``: given groups.
        names: the K attribute names, in the order of ``att``.

    Returns:
        (groups ``[[name, [indices]], ...]``, group ids int64 [K]).
    """
    k = len(names)
    if isinstance(spec, str):
        rule = spec.lower()
        if rule == 'auto':
            rule = 'prefix' if k and all('::' in n for n in names) else 'single'
        if rule in ('prefix', 'cub'):
            groups = groups_from_prefix(names)
        elif rule in _TABLES:
            groups = groups_from_table(rule, names)
        elif rule == 'single':
            groups = [[n, [i]] for i, n in enumerate(names)]
        else:
            raise ValueError(f'unknown attribute_groups rule {spec!r}; expected one of '
                             "'auto', 'prefix', 'cub', 'awa2', 'sun', 'awa2_released', "
                             "'sun_released', 'single', a list of [name, [indices]] or a dict "
                             '{name: [indices]}')
    elif isinstance(spec, dict):
        groups = [[str(g), [int(i) for i in idx]] for g, idx in spec.items()]
    else:
        groups = [[str(g), [int(i) for i in idx]] for g, idx in spec]
    return groups, group_ids(groups, k)
