"""MMEngine's CheckpointHook with the guarantees svip_mm's tools give about checkpoints, and
the check of a run's start that tools/train.py makes before the Runner writes anything."""
import os.path as osp
import re
from typing import Dict, Iterable, List, Optional, Tuple

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from ..models.heads.class_table import class_table_buffers
from ..utils.checkpoint_format import decode_checkpoint, encode_checkpoint
from ..utils.safe_checkpoint import load_checkpoint_file
from .atomic_backend import ATOMIC_LOCAL
from .latest_checkpoint import (check_not_damaged, checkpoint_damage, checkpoint_number,
                                checkpoints_after, damaged_message, previous_readable)
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


def check_no_overwrite(out_dir: str, start: int, filename_tmpl: str, by_epoch: bool) -> None:
    """Refuse a run starting after epoch (iteration) ``start`` whose numbered checkpoints would
    write over files of ``out_dir``.

    Raises:
        CheckpointOverwriteError: the message lists those files; damaged ones
            (:func:`~.latest_checkpoint.checkpoint_damage`) are named as such, with the
            advice to delete or move them and the latest readable checkpoint to continue
            from.
    """
    later = checkpoints_after(out_dir, start, filename_tmpl)
    if not later:
        return
    damage = {path: checkpoint_damage(path) for path in later}
    whole = [osp.basename(p) for p in later if damage[p] is None]
    broken = [p for p in later if damage[p] is not None]
    parts = []
    if whole:
        parts.append(
            f'{out_dir} already holds checkpoints this run would overwrite '
            f'({_listing(whole)}; the run starts after {"epoch" if by_epoch else "iteration"} '
            f'{start}). To continue that run use --resume (it resumes from the latest '
            'checkpoint); to train anew give another --work-dir, or move those files away.')
    if broken:
        resume_from = previous_readable(out_dir, filename_tmpl)
        parts += [damaged_message(p, damage[p], resume_from) for p in broken[:_SHOWN]]
    raise CheckpointOverwriteError(' '.join(parts))


def checkpoint_hook_settings(cfg) -> Optional[Tuple[str, str, bool]]:
    """``(out_dir, filename_tmpl, by_epoch)`` of the :class:`SVIPCheckpointHook` of ``cfg``
    (``default_hooks.checkpoint``) as the hook will resolve them, or None when the config has
    no such hook or it saves elsewhere than to a local folder."""
    hook = (cfg.get('default_hooks') or {}).get('checkpoint')
    hook_type = hook.get('type') if isinstance(hook, dict) else None
    if not (hook_type is SVIPCheckpointHook or
            str(hook_type).split('.')[-1] == 'SVIPCheckpointHook'):
        return None
    by_epoch = hook.get('by_epoch', True)
    tmpl = hook.get('filename_tmpl') or ('epoch_{}.pth' if by_epoch else 'iter_{}.pth')
    work_dir = osp.abspath(cfg.work_dir)  # as the Runner's work_dir
    out_dir = hook.get('out_dir') or work_dir
    if '://' in str(out_dir):
        return None
    if out_dir != work_dir:  # as CheckpointHook.before_train: out_dir/<work dir's name>
        out_dir = osp.join(out_dir, osp.basename(work_dir.rstrip(osp.sep)))
    return out_dir, tmpl, by_epoch


def check_run_start(cfg) -> None:
    """Before the Runner is built (it writes its config copy and log folder into the work
    dir): refuse a run that :class:`SVIPCheckpointHook` would refuse, so that a refused run
    leaves the work dir as it was.

    The run starts at 0, or, with ``cfg.resume``, at the epoch (iteration) of the checkpoint
    ``cfg.load_from``, read from its name when the name is the hook's ``filename_tmpl``, else
    from its ``meta``. A damaged checkpoint to resume from is refused as well.

    Raises:
        CheckpointOverwriteError: as :func:`check_no_overwrite`.
        DamagedCheckpointError: the checkpoint to resume from is damaged; the message names
            the readable one before it.
        CheckpointReadError: the checkpoint to resume from cannot be read.
    """
    settings = checkpoint_hook_settings(cfg)
    if settings is None:
        return
    out_dir, tmpl, by_epoch = settings
    start = 0
    source = cfg.get('load_from')
    if cfg.get('resume') and source and '://' not in str(source):
        check_not_damaged(source, tmpl)
        number = checkpoint_number(osp.basename(source), tmpl)
        if number is None:
            meta = load_checkpoint_file(source).get('meta') or {}
            number = meta.get('epoch' if by_epoch else 'iter', 0)
        start = int(number)
    check_no_overwrite(out_dir, start, tmpl, by_epoch)


@HOOKS.register_module()
class SVIPCheckpointHook(CheckpointHook):
    """:class:`mmengine.hooks.CheckpointHook` (same arguments) that also

    - holds the work dir's training lock while it trains (:mod:`.work_dir_lock`): a second
      training run in the same work dir stops with an error instead of overwriting this
      one's files;
    - refuses to start when the work dir already has numbered checkpoints after the epoch
      (iteration) the run starts from: checkpoints it did not write are never overwritten
      (tools/train.py makes the same check, :func:`check_run_start`, before the Runner writes
      anything); a damaged one is named as such, with what to do;
    - writes each checkpoint whole or not at all when it saves to a local folder
      (:mod:`.atomic_backend`: a temporary file, fsync, rename), so a save cut off by a full
      disk or a kill leaves no partial ``epoch_N.pth``;
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
        if self.backend_args is None and self.file_client_args is None and \
                '://' not in str(self.out_dir or ''):
            self.backend_args = dict(backend=ATOMIC_LOCAL)
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
        check_no_overwrite(self.out_dir, start, self.filename_tmpl, self.by_epoch)

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
