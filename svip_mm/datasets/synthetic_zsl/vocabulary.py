"""The attribute vocabulary of the synthetic dataset: the four attribute groups, the colour palette
and the known shapes and patterns (which of them a dataset uses is a parameter, see
:mod:`.parameters`)."""
from typing import Dict, List, Tuple

#: The attribute groups, in the order of the attribute vector, with the parameter naming each
#: group's value list.
GROUPS: Tuple[Tuple[str, str], ...] = (
    ('shape', 'shapes'),
    ('body_color', 'body_colors'),
    ('pattern', 'patterns'),
    ('head_color', 'head_colors'),
)

#: Base colours as HSV (all components in [0, 1]); per-image jitter is added around them.
PALETTE_HSV: Dict[str, Tuple[float, float, float]] = {
    'red': (0.000, 0.82, 0.88),
    'orange': (0.075, 0.88, 0.97),
    'yellow': (0.150, 0.85, 0.93),
    'green': (0.330, 0.75, 0.68),
    'blue': (0.610, 0.80, 0.88),
    'purple': (0.780, 0.62, 0.72),
}
KNOWN_SHAPES = ('circle', 'square', 'triangle', 'star', 'cross', 'crescent')
KNOWN_PATTERNS = ('plain', 'stripes', 'dots', 'checkered')
_KNOWN_VALUES = {
    'shapes': KNOWN_SHAPES,
    'body_colors': tuple(PALETTE_HSV),
    'patterns': KNOWN_PATTERNS,
    'head_colors': tuple(PALETTE_HSV),
}


def group_names() -> List[str]:
    """The attribute group names in attribute-vector order (``shape``, ``body_color``, ...)."""
    return [g for g, _ in GROUPS]
