"""MMEngine's CheckpointHook with the guarantees svip_mm's tools give about checkpoints."""
import os.path as osp
import re
from typing import Dict, Iterable, List, Tuple

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from ..models.heads.class_table import class_table_buffers  # noqa: F401  (re-exported)
from ..utils.checkpoint_format import decode_checkpoint, encode_checkpoint
from .latest_checkpoint import checkpoints_after
from .work_dir_lock import lock_work_dir, unlock_work_dir

_SHOWN = 8  # keys listed per kind of mismatch


class CheckpointMismatchError(ValueError):
    """A checkpoint's weights do not fit the model of the config."""


class CheckpointOverwriteError(FileExistsError):
    """The work dir holds checkpoints of another run that this run would write over."""


def _listing(keys: List[str]) -> str:
    more = f' ... and {len(keys) - _SHOWN} more' if len(keys) > _SHOWN else ''
    return ', '.join(keys[:_SHOWN]) + more


def weight_mismatch(model_shapes: Dict[str, Tuple[int, ...]],
                    ckpt_shapes: Dict[str, Tuple[int, ...]],
                    exempt: Iterable[str] = ()) -> Tuple[List[str], List[str], List[str]]:
    """(missing, unexpected, wrong-shaped) keys of a checkpoint against a model; ``exempt``
    keys may be missing or differ in shape."""
    exempt = set(exempt)
    missing = [k for k in model_shapes if k not in ckpt_shapes and k not in exempt]
    unexpected = [k for k in ckpt_shapes if k not in model_shapes]
    wrong = [f'{k} {list(ckpt_shapes[k])} (model: {list(shape)})'
             for k, shape in model_shapes.items()
             if k in ckpt_shapes and k not in exempt and tuple(ckpt_shapes[k]) != shape]
    return missing, unexpected, wrong


@HOOKS.register_module()
class SVIPCheckpointHook(CheckpointHook):
    """:class:`mmengine.hooks.CheckpointHook` (same arguments) that also

    - holds the work dir's training lock while it trains (:mod:`.work_dir_lock`): a second
      training run in the same work dir stops with an error instead of overwriting this
      one's files;
    - refuses to start when the work dir already has numbered checkpoints after the epoch
      (iteration) the run starts from: checkpoints it did not write are never overwritten;
    - writes checkpoints in plain types (``svip_mm/utils/checkpoint_format.py``), which load
      with ``torch.load(weights_only=True)`` and nothing allow-listed, and decodes them on
      load;
    - with ``strict_load=True`` (default) refuses a checkpoint (``load_from``, resume,
      ``tools/test.py``) whose weights are missing, unexpected or of another shape than the
      model's, listing the keys; the buffers the class-table hook fills from the dataset
      (``CLASS_TABLE_BUFFERS`` of a module) may be missing.

    Args:
        strict_load: check the loaded weights against the model.
        **kwargs: :class:`mmengine.hooks.CheckpointHook`'s arguments.
    """

    def __init__(self, *args, strict_load: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.strict_load = strict_load
        self._locked_dir = None

    # ------------------------------------------------------------- the work dir
    def before_train(self, runner) -> None:
        # training only: a test may read the work dir while a run trains there
        if is_main_process():
            lock_work_dir(runner.work_dir)
            self._locked_dir = runner.work_dir
        super().before_train(runner)
        start = runner.epoch if self.by_epoch else runner.iter
        if not is_main_process() or not osp.isdir(self.out_dir):
            return
        later = checkpoints_after(self.out_dir, start, self.filename_tmpl)
        if later:
            names = _listing([osp.basename(p) for p in later])
            raise CheckpointOverwriteError(
                f'{self.out_dir} already holds checkpoints this run would overwrite ({names}; '
                f'the run starts after {"epoch" if self.by_epoch else "iteration"} {start}). '
                'To continue that run use --resume (it resumes from the latest checkpoint); '
                'to train anew give another --work-dir, or move those files away.')

    def after_train(self, runner) -> None:
        super().after_train(runner)  # saves the last checkpoint, if asked to
        if self._locked_dir is not None:
            unlock_work_dir(self._locked_dir)
            self._locked_dir = None

    # -------------------------------------------------------- checkpoint content
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        encode_checkpoint(checkpoint)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        decode_checkpoint(checkpoint)  # a no-op when the loader already decoded it
        if not self.strict_load:
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        state = checkpoint.get('state_dict', checkpoint)
        ckpt_shapes = {re.sub(r'^module\.', '', k): tuple(getattr(v, 'shape', ()))
                       for k, v in state.items()}
        model_shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        missing, unexpected, wrong = weight_mismatch(model_shapes, ckpt_shapes,
                                                     class_table_buffers(model))
        if missing or unexpected or wrong:
            source = getattr(runner, '_load_from', None) or \
                f'the latest checkpoint of {runner.work_dir}'
            parts = [f'{label} ({len(keys)}): {_listing(keys)}'
                     for label, keys in (('missing', missing), ('unexpected', unexpected),
                                         ('wrong shape', wrong)) if keys]
            raise CheckpointMismatchError(
                f'{source} does not fit the model of this config ({type(model).__name__}): '
                + '; '.join(parts) + '. Is it a checkpoint of another config? (To load '
                'partial weights on purpose, use the backbone\'s init_cfg=dict('
                "type='Pretrained', ...) or set strict_load=False on SVIPCheckpointHook.)")
