"""The allowed-values check of constructor arguments."""
from typing import Any, Sequence


def check_choice(name: str, value: Any, allowed: Sequence[Any]) -> Any:
    """``value`` if it is one of ``allowed``; else a ``ValueError`` naming the argument."""
    if value not in allowed:
        raise ValueError(f'{name} must be one of {tuple(allowed)}, got {value!r}')
    return value
