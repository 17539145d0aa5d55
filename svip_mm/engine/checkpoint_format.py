"""Re-export: the plain-type checkpoint format lives in :mod:`svip_mm.utils.checkpoint_format`
(the safe reader in utils decodes it, so models need not import the engine)."""
from ..utils.checkpoint_format import (HISTORY_TAG, NDARRAY_TAG,  # noqa: F401
                                       CheckpointFormatError, decode, decode_checkpoint, encode,
                                       encode_checkpoint)
