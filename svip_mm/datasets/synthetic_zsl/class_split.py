"""The classes and the split: which attribute combinations become seen and unseen classes (a seeded
search for a split that makes a meaningful ZSL benchmark), the class attribute matrix, and
:func:`split_report`, which checks a split's properties."""
import itertools
import json
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .vocabulary import GROUPS


def _draw_unseen(rng: np.random.Generator, combos: List[Tuple[int, ...]], sizes: List[int],
                 n_unseen: int) -> Optional[List[Tuple[int, ...]]]:
    """One random unseen set made of "stars" (see :func:`_choose_classes`), or None on a clash."""
    n_groups = len(sizes)
    unseen: List[Tuple[int, ...]] = []
    for _star in range(n_unseen // (n_groups + 1)):
        base = combos[rng.integers(len(combos))]
        members = [base]
        for g in range(n_groups):
            alt = list(base)
            alt[g] = int((base[g] + 1 + rng.integers(sizes[g] - 1)) % sizes[g])
            members.append(tuple(alt))
        if len(set(members) | set(unseen)) != len(members) + len(unseen):
            return None
        unseen.extend(members)
    taken = set(unseen)
    rest = [c for c in combos if c not in taken]
    extra = n_unseen - len(unseen)
    unseen.extend(rest[i] for i in rng.choice(len(rest), size=extra, replace=False))
    return unseen


def _unseen_score(unseen: List[Tuple[int, ...]], sizes: List[int]) -> Tuple[int, float]:
    """(attribute values used by unseen classes, minus the imbalance of their counts)."""
    covered, imbalance = 0, 0.0
    for g, size in enumerate(sizes):
        counts = np.bincount([c[g] for c in unseen], minlength=size)
        covered += int((counts > 0).sum())
        imbalance += float(((counts - len(unseen) / size) ** 2).sum())
    return covered, -imbalance


class _SeenSetStats:
    """Counts over a seen set that measure how far one attribute group can be predicted from
    the others (a shortcut a network takes instead of learning the group, and which then fails
    on the unseen combinations), updated incrementally when classes are swapped.

    :meth:`cost` (lower is better) adds:

    * *lookup*, per group g: the number of distinct combinations of the *other* groups divided
      by the number of classes, i.e. the accuracy of predicting g from all other groups with a
      lookup table. 1 when every class's context is unique (g is never needed to tell the seen
      classes apart), 0.5 when every class has a "minimal pair" differing only in g.
    * 3 x *dependence*: the mutual information (nats) between the values of every two groups,
      summed over the pairs: 0 when no value of one group says anything about another.
    * *imbalance*: the L1 distance of each group's value frequencies from uniform, summed.

    The two first terms pull in opposite directions (minimal pairs make groups dependent); the
    weights were chosen with a probe (a tiny ViT, one attribute head per group, trained on the
    seen classes) by the per-group attribute accuracy on the unseen classes.
    """

    def __init__(self, seen: Sequence[Tuple[int, ...]], sizes: List[int]):
        self.sizes, self.n = list(sizes), len(seen)
        ng = len(sizes)
        self.pairs = [(g, h) for g in range(ng) for h in range(g + 1, ng)]
        self.context: List[Dict[Tuple[int, ...], int]] = [{} for _ in sizes]
        self.values = [[0] * s for s in sizes]
        self.joint = {(g, h): [[0] * sizes[h] for _ in range(sizes[g])] for g, h in self.pairs}
        # sum of k*ln(k) over the counts k of each group's values / each pair's joint values,
        # kept up to date so that the mutual information costs O(1) per swap
        self._xlogx_values = [0.0] * ng
        self._xlogx_joint = {pair: 0.0 for pair in self.pairs}
        for c in seen:
            self.update(c, 1)

    @staticmethod
    def _dx(k: int, sign: int) -> float:
        """Change of k*ln(k) when k changes by sign."""
        new = k + sign
        return (new * math.log(new) if new > 0 else 0.0) - (k * math.log(k) if k > 0 else 0.0)

    def update(self, c: Tuple[int, ...], sign: int) -> None:
        """Add (``sign=1``) or remove (``-1``) class ``c``."""
        for g in range(len(self.sizes)):
            key = c[:g] + c[g + 1:]
            k = self.context[g].get(key, 0) + sign
            if k:
                self.context[g][key] = k
            else:
                del self.context[g][key]
            self._xlogx_values[g] += self._dx(self.values[g][c[g]], sign)
            self.values[g][c[g]] += sign
        for g, h in self.pairs:
            row = self.joint[g, h][c[g]]
            self._xlogx_joint[g, h] += self._dx(row[c[h]], sign)
            row[c[h]] += sign

    def covered(self, at_least: int) -> bool:
        return all(min(v) >= at_least for v in self.values)

    def lookup(self) -> List[float]:
        return [len(ctx) / self.n for ctx in self.context]

    def dependence(self) -> float:
        """Sum over group pairs of the mutual information of their values (nats)."""
        n = self.n
        return sum((self._xlogx_joint[g, h] - self._xlogx_values[g] - self._xlogx_values[h]) / n
                   + math.log(n) for g, h in self.pairs)

    def imbalance(self) -> float:
        return sum(abs(k / self.n - 1 / len(v)) for v in self.values for k in v)

    def cost(self) -> float:
        return sum(self.lookup()) + 3.0 * self.dependence() + self.imbalance()


def _values_covered(classes: Sequence[Tuple[int, ...]], sizes: List[int], at_least: int) -> bool:
    return all(sum(c[g] == v for c in classes) >= at_least
               for g in range(len(sizes)) for v in range(sizes[g]))


_SPLIT_KEYS = ('seed', 'shapes', 'body_colors', 'patterns', 'head_colors', 'n_seen', 'n_unseen',
               'n_val', 'min_seen_per_value', 'format_version')


def _choose_classes(p: Dict[str, Any]) -> Dict[str, Any]:
    """The classes and split of :func:`_choose_classes_uncached`, memoised per parameters that
    determine them (the search takes about a second; a copy is returned)."""
    key = json.dumps({k: p[k] for k in _SPLIT_KEYS}, sort_keys=True)
    if key not in _SPLIT_CACHE:
        _SPLIT_CACHE[key] = json.dumps(_choose_classes_uncached(p))
    return json.loads(_SPLIT_CACHE[key])


_SPLIT_CACHE: Dict[str, str] = {}


def _choose_classes_uncached(p: Dict[str, Any]) -> Dict[str, Any]:
    """Pick seen/unseen attribute combinations and the train/val split of the seen classes.

    Unseen classes are built as "stars": a base combination plus, for each group, a copy of it
    with only that group changed, so every group separates some unseen pairs (classes beyond a
    multiple of ``groups + 1`` are random). Of many random draws the one whose unseen classes use
    the most attribute values, most evenly, is kept, so the unseen classes span the vocabulary.

    Seen classes start random among the remaining combinations (every value in at least
    ``min_seen_per_value`` of them) and are then improved by seeded simulated annealing on
    :meth:`_SeenSetStats.cost`. In a random seen set each group is 70-90% predictable from the
    other groups (most classes are the only one with their context) and values of different
    groups are correlated, so a network predicts, say, the shape from the colours that go with
    it in the seen classes instead of looking at the shape, and fails on unseen combinations.
    The optimised set has exactly balanced value frequencies, nearly independent groups and more
    "minimal pairs" (seen classes differing in one group only). Finally ``n_val`` seen classes
    become ``val`` such that every value still occurs in a ``train`` class.
    """
    sizes = [len(p[key]) for _, key in GROUPS]
    combos = list(itertools.product(*[range(s) for s in sizes]))
    rng = np.random.default_rng([p['seed'], 0])
    unseen, best = None, None
    for _ in range(400):
        cand = _draw_unseen(rng, combos, sizes, p['n_unseen'])
        if cand is not None and (best is None or _unseen_score(cand, sizes) > best):
            unseen, best = cand, _unseen_score(cand, sizes)
    if unseen is None:
        raise RuntimeError(f"could not place n_unseen={p['n_unseen']} unseen classes in the "
                           f'{len(combos)} attribute combinations; use fewer unseen classes')
    taken = set(unseen)
    rest = [c for c in combos if c not in taken]
    need = p['min_seen_per_value']
    failure = RuntimeError(
        f'could not find a split with every attribute value in >= {need} seen classes and in '
        f"a train class (n_seen={p['n_seen']}, n_val={p['n_val']}); use more seen classes, a "
        'smaller min_seen_per_value or fewer attribute values')
    for _ in range(5000):
        seen = [rest[i] for i in rng.choice(len(rest), size=p['n_seen'], replace=False)]
        if _values_covered(seen, sizes, need):
            break
    else:
        raise failure
    # Simulated annealing over single-class swaps (seeded, hence deterministic).
    stats = _SeenSetStats(seen, sizes)
    members = set(seen)
    cost = stats.cost()
    steps = 400 * p['n_seen']
    for step in range(steps):
        i, cand = int(rng.integers(len(seen))), rest[rng.integers(len(rest))]
        accept_draw = rng.random()
        if cand in members:
            continue
        old = seen[i]
        stats.update(old, -1)
        stats.update(cand, 1)
        new_cost = stats.cost() if stats.covered(need) else math.inf
        temperature = 0.05 * (1 - step / steps) + 1e-9
        if new_cost <= cost or accept_draw < math.exp((cost - new_cost) / temperature):
            seen[i], cost = cand, new_cost
            members.discard(old)
            members.add(cand)
        else:
            stats.update(cand, -1)
            stats.update(old, 1)
    for _ in range(5000):
        val_idx = set(rng.choice(p['n_seen'], size=p['n_val'], replace=False).tolist())
        if _values_covered([c for i, c in enumerate(seen) if i not in val_idx], sizes, 1):
            break
    else:
        raise failure

    entries = ([(c, 'unseen', None) for c in unseen]
               + [(c, 'seen', 'val' if i in val_idx else 'train') for i, c in enumerate(seen)])
    order = rng.permutation(len(entries))  # unseen classes are spread over the class ids
    classes = []
    for cid, k in enumerate(order, start=1):
        combo, split, subset = entries[k]
        attrs = {g: p[key][combo[i]] for i, (g, key) in enumerate(GROUPS)}
        short = (f"{attrs['body_color']}_{attrs['pattern']}_{attrs['shape']}_"
                 f"{attrs['head_color']}_head")
        classes.append(dict(id=cid, name=f'{cid:03d}.{short}', attributes=attrs,
                            values=list(combo), split=split, seen_subset=subset))
    return dict(classes=classes)


def _attribute_names(p: Dict[str, Any]) -> List[str]:
    return [f'has_{g}::{v}' for g, key in GROUPS for v in p[key]]


def _attribute_matrix(p: Dict[str, Any], classes: List[Dict[str, Any]]) -> np.ndarray:
    """Binary [K, C] matrix (one value per group per class), float64 like MATLAB doubles."""
    names = _attribute_names(p)
    index = {n: i for i, n in enumerate(names)}
    mat = np.zeros((len(names), len(classes)), dtype=np.float64)
    for j, c in enumerate(classes):
        for g, v in c['attributes'].items():
            mat[index[f'has_{g}::{v}'], j] = 1.0
    return mat


def split_report(original_att: np.ndarray, attribute_names: Sequence[str],
                 unseen_ids: Sequence[int], seen_ids: Sequence[int]) -> Dict[str, Any]:
    """Check the properties that make the split a meaningful ZSL benchmark.

    Args:
        original_att: [K, C] class attribute matrix (columns = classes, 0-based).
        attribute_names: K names ``has_<group>::<value>``; the group is the part before ``::``.
        unseen_ids, seen_ids: 0-based class indices.

    Returns:
        A dict with ``disjoint`` (no unseen attribute vector equals a seen one),
        ``uncovered`` (attribute names active in no seen class), and ``group_pairs``: for every
        group, the unseen pairs ``(i, j)`` whose vectors differ only in that group (so removing
        the group would make them identical). Every group needs a non-empty list.
    """
    att = np.asarray(original_att)
    groups = [n.split('::', 1)[0] for n in attribute_names]
    seen_vecs = {tuple(att[:, j]) for j in seen_ids}
    pairs: Dict[str, List[Tuple[int, int]]] = {g: [] for g in dict.fromkeys(groups)}
    for a, b in itertools.combinations(sorted(unseen_ids), 2):
        diff = {groups[k] for k in np.flatnonzero(att[:, a] != att[:, b])}
        if len(diff) == 1:
            pairs[diff.pop()].append((int(a), int(b)))
    covered = att[:, list(seen_ids)].sum(axis=1) > 0
    return dict(
        disjoint=all(tuple(att[:, j]) not in seen_vecs for j in unseen_ids),
        uncovered=[n for n, c in zip(attribute_names, covered) if not c],
        group_pairs=pairs,
    )
