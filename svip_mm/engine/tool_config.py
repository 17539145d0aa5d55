"""The config handling that tools/train.py and tools/test.py share: read the config, refuse
``--cfg-options`` keys nobody would read and a training length that trains nothing, set the
launcher and the work dir, and use svip_mm's checkpoint hook."""
import difflib
import inspect
import os.path as osp
from typing import Optional

from mmengine.config import Config
from mmengine.runner import Runner

from ..utils.config_file import read_config

# top-level keys a config may hold besides the Runner's arguments: read by svip_mm's tools and
# by MMEngine's config loader
_TOOL_KEYS = {'data_preparation', 'custom_imports'}


def load_tool_config(config: str, cfg_options: Optional[dict], launcher: str,
                     work_dir: Optional[str], training: bool = False) -> Config:
    """Read ``config``, apply ``--cfg-options``, and set the launcher and the work dir
    (``--work-dir``, else the config's, else ``work_dirs/<config name>``).

    Args:
        training: the config is to train (tools/train.py): its training length is checked
            too; tools/test.py evaluates a given checkpoint, whatever the config's length.

    Raises:
        SystemExit: a ``--cfg-options`` key nobody reads (:func:`check_cfg_options`), or, with
            ``training``, a training length that trains nothing (:func:`check_training_length`).
    """
    cfg = read_config(config)
    if cfg_options:
        check_cfg_options(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    if training:
        check_training_length(cfg)
    cfg.launcher = launcher
    if work_dir:
        cfg.work_dir = work_dir
    elif not cfg.get('work_dir'):
        cfg.work_dir = osp.join('work_dirs', osp.splitext(osp.basename(config))[0])
    use_svip_checkpoint_hook(cfg)
    return cfg


def use_svip_checkpoint_hook(cfg: Config) -> None:
    """Swap MMEngine's plain ``CheckpointHook`` of a config (an mmpretrain one, say) for
    :class:`~svip_mm.engine.SVIPCheckpointHook` with the same arguments, so that the tools
    load strictly, never overwrite another run's checkpoints and write safe-to-load files."""
    hook = (cfg.get('default_hooks') or {}).get('checkpoint')
    if hook is not None and hook.get('type') in ('CheckpointHook', 'mmengine.CheckpointHook'):
        hook['type'] = 'SVIPCheckpointHook'


def check_training_length(cfg: Config) -> None:
    """Refuse ``train_cfg.max_epochs`` / ``train_cfg.max_iters`` that train nothing.

    MMEngine's loops take ``max_epochs=-1`` or ``0`` and train nothing; tools/train.py would
    then test the untrained model and exit 0, as if the run had worked. A negative value is
    always refused; 0 only where the model loads no weights: with ``load_from`` or a
    ``Pretrained`` init_cfg, a 0-epoch run is the way to test loaded weights as they are
    (``configs/pretrained/svip_vit_synthetic_pretrained_attention.py``).

    Raises:
        SystemExit: naming the key, its value and what is expected.
    """
    train_cfg = cfg.get('train_cfg') or {}
    for key, unit in (('max_epochs', 'epochs'), ('max_iters', 'iterations')):
        if key not in train_cfg:
            continue
        value = train_cfg[key]
        whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        if isinstance(value, bool) or not whole or value < 0 or \
                (value == 0 and not _loads_weights(cfg)):
            raise SystemExit(
                f'train_cfg.{key} is {value!r}; expected a whole number >= 1 (the {unit} to '
                f'train): a run of {value!r} {unit} trains nothing, and its test would measure '
                'an untrained model. (0 is accepted where the model loads weights, through '
                "load_from or an init_cfg of type 'Pretrained', to test them as they are.)")


def _loads_weights(cfg: Config) -> bool:
    """Whether the model of ``cfg`` starts from weights: ``load_from`` or a Pretrained
    init_cfg anywhere in ``cfg.model``."""
    def pretrained(node) -> bool:
        if isinstance(node, dict):
            return node.get('type') == 'Pretrained' or any(map(pretrained, node.values()))
        if isinstance(node, (list, tuple)):
            return any(map(pretrained, node))
        return False
    return bool(cfg.get('load_from')) or pretrained(cfg.get('model'))


def check_cfg_options(cfg: Config, cfg_options: dict) -> None:
    """Refuse a ``--cfg-options`` key that would be silently ignored.

    MMEngine merges any key: a misspelt top-level key (``tarin_cfg.max_epochs=2``) becomes a
    new entry nobody reads, and the run goes on with the config's value. Here every key's
    parents must exist in the config (list entries by index), and a new top-level key must be
    one the Runner or the tools read. A new last component under an existing dict is allowed
    when it is an argument of the class that dict builds (a constructor argument the config
    leaves at its default): where the class can be found (the dict's ``type`` in the
    registries, or the training loop for ``train_cfg``) and takes no ``**kwargs``, a name it
    does not take is refused before anything runs. A value replacing a number must be a number
    (``lr=abc`` would otherwise fail deep inside the optimizer).

    Raises:
        SystemExit: naming the key, the missing part and the closest existing names, or the
            value and the type expected.
    """
    known_top = set(cfg.keys()) | _TOOL_KEYS | \
        set(inspect.signature(Runner.__init__).parameters) - {'self'}
    for key in cfg_options:
        parts = str(key).split('.')
        if parts[0] not in known_top:
            _refuse(key, parts[0], sorted(known_top))
        node = cfg.to_dict()
        for depth, part in enumerate(parts[:-1]):
            if isinstance(node, (list, tuple)):
                if not part.isdigit() or int(part) >= len(node):
                    raise SystemExit(f'--cfg-options {key}: {".".join(parts[:depth])} is a list '
                                     f'of {len(node)}; expected an index 0..{len(node) - 1}, '
                                     f'got {part!r}')
                node = node[int(part)]
            elif isinstance(node, dict):
                if part not in node:
                    _refuse(key, '.'.join(parts[:depth + 1]), sorted(map(str, node)))
                node = node[part]
            else:
                _not_a_container(key, parts[:depth], node)
        if len(parts) > 1 and not isinstance(node, (dict, list, tuple)):
            _not_a_container(key, parts[:-1], node)
        last = parts[-1]
        if isinstance(node, dict) and last not in node and len(parts) > 1:
            _check_argument(key, parts, node)
        current = node.get(last) if isinstance(node, dict) else \
            (node[int(last)] if isinstance(node, (list, tuple)) and last.isdigit()
             and int(last) < len(node) else None)
        _check_value_type(key, cfg_options[key], current)


def _check_value_type(key: str, value, current) -> None:
    """A number in the config may only be replaced by a number (an int by an int or float)."""
    if isinstance(current, bool) or current is None:
        return
    if isinstance(current, (int, float)) and not (
            isinstance(value, (int, float)) and not isinstance(value, bool)):
        raise SystemExit(f'--cfg-options {key}={value!r}: expected a number (the config has '
                         f'{current!r})')


def _built_class(parts, node: dict):
    """The class the dict at ``parts[:-1]`` builds, where it can be told: the training loop
    for ``train_cfg``, else the dict's ``type`` looked up in mmpretrain's registries (None when
    unknown or ambiguous)."""
    if parts[:-1] == ['train_cfg'] and 'type' not in node:
        from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop
        return EpochBasedTrainLoop if node.get('by_epoch', True) else IterBasedTrainLoop
    kind = node.get('type')
    if isinstance(kind, type):
        return kind
    if not isinstance(kind, str):
        return None
    import mmpretrain.registry as registries
    from mmengine.registry import Registry, init_default_scope
    init_default_scope('mmpretrain')
    found = {registry.get(kind) for registry in vars(registries).values()
             if isinstance(registry, Registry)} - {None}
    return found.pop() if len(found) == 1 else None


def _check_argument(key: str, parts, node: dict) -> None:
    """Refuse a new last component that the class built from ``node`` does not take."""
    cls = _built_class(parts, node)
    if cls is None or not inspect.isclass(cls):
        return
    params = inspect.signature(cls.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    names = sorted(set(params) - {'self'} | ({'by_epoch', 'type'}
                                             if parts[:-1] == ['train_cfg'] else {'type'}))
    if parts[-1] in names:
        return
    close = difflib.get_close_matches(parts[-1], names, n=3)
    hint = f'; did you mean {", ".join(close)}?' if close else f'; it takes {", ".join(names)}'
    raise SystemExit(f'--cfg-options {key}: {".".join(parts[:-1])} builds {cls.__name__}, which '
                     f'takes no {parts[-1]!r}{hint}')


def _not_a_container(key: str, path, node) -> None:
    raise SystemExit(f'--cfg-options {key}: {".".join(path)} is {node!r}, which has no '
                     'entries to set')


def _refuse(key: str, missing: str, names) -> None:
    close = difflib.get_close_matches(missing.split('.')[-1], names, n=3)
    hint = f'; did you mean {", ".join(close)}?' if close else ''
    raise SystemExit(f'--cfg-options {key}: the config has no {missing!r}, so the value would '
                     f'be ignored{hint}')
