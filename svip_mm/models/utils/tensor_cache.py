"""Values derived from a tensor, rebuilt only when that tensor changes."""
import weakref
from typing import Any, Callable, Optional, Tuple

import torch


def _state(tensor: torch.Tensor) -> Optional[Tuple]:
    try:
        version = tensor._version
    except RuntimeError:  # an inference tensor has no version counter: never trust a cache
        return None
    return tensor.data_ptr(), version, tensor.device, tuple(tensor.shape), tensor.dtype


class TensorDerivedCache:
    """Caches ``build(tensor)`` for one source tensor (a buffer such as a mask).

    Derived index tensors (e.g. from ``mask.nonzero()``) cost a host-device synchronisation
    to build; the training step reuses them instead. The cache is rebuilt when the source is
    another tensor object (``Module.to`` replaces buffers) or when it was written in place
    (``copy_`` in ``load_state_dict``, ``zero_``, item assignment: all bump the tensor's
    version counter) or its data moved. It holds the source only weakly, and is emptied when
    pickled or deep-copied.
    """

    def __init__(self) -> None:
        self._clear()

    def _clear(self) -> None:
        self._source, self._state, self._value = None, None, None

    def get(self, tensor: torch.Tensor, build: Callable[[torch.Tensor], Any]) -> Any:
        state = _state(tensor)
        source = self._source() if self._source is not None else None
        if state is None or source is not tensor or state != self._state:
            value = build(tensor)  # may raise: then the old entry stays and is not used
            self._source, self._state, self._value = weakref.ref(tensor), state, value
        return self._value

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self._clear()
