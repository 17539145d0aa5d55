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
  One deliberate difference from groupings circulated with such code: ``newworld`` is put
  with the other geographic/habitat predicates, not with nutrition.
- **SUN**: the 102 SUN attributes come in the four types of the SUN attribute database
  (Patterson & Hays): functions/affordances (36), materials (38), surface properties
  (13, lighting included) and spatial envelope (15), stored contiguously in that order;
  :data:`SUN_GROUPS` lists them.

The AwA2 and SUN tables are positional (attribute i of the dataset is attribute i of the
table); the names in the tables document them and are compared with the dataset's names.
"""
import re
import warnings
from typing import Dict, List, Sequence, Tuple, Union

import numpy as np

__all__ = [
    'AWA2_PREDICATES', 'AWA2_GROUPS', 'SUN_ATTRIBUTES', 'SUN_GROUPS', 'groups_from_prefix',
    'groups_from_table', 'group_ids', 'resolve_attribute_groups'
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

_TABLES = {
    'awa2': (AWA2_PREDICATES, AWA2_GROUPS),
    'sun': (SUN_ATTRIBUTES, SUN_GROUPS),
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
    """Group the attributes of AwA2 (``table='awa2'``) or SUN (``'sun'``) by the tables above.

    Args:
        table: ``'awa2'`` or ``'sun'``.
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
            ``'awa2'`` / ``'sun'``: the tables of this module;
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
                             "'auto', 'prefix', 'cub', 'awa2', 'sun', 'single', a list of "
                             '[name, [indices]] or a dict {name: [indices]}')
    elif isinstance(spec, dict):
        groups = [[str(g), [int(i) for i in idx]] for g, idx in spec.items()]
    else:
        groups = [[str(g), [int(i) for i in idx]] for g, idx in spec]
    return groups, group_ids(groups, k)
