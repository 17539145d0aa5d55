"""Reading a field of a predicted sample, for the metrics."""
from collections.abc import Mapping
from typing import Any


def sample_field(sample: Any, key: str, owner: str, hint: str) -> Any:
    """``sample[key]`` of a dict (what MMEngine's Evaluator passes) or of a data element.

    Raises:
        KeyError: naming ``owner`` (the metric), the missing field, the fields present and
            ``hint`` (where the field should come from).
    """
    if isinstance(sample, Mapping):
        if key in sample:
            return sample[key]
        keys = sorted(sample.keys())
    else:
        if key in sample:
            return sample.get(key)
        keys = sorted(sample.keys()) if hasattr(sample, 'keys') else []
    raise KeyError(f"{owner}: a data sample has no '{key}' field (it has {keys}); {hint}")
