"""Opt-in efficient-path helpers for SVIP training and inference (no model code changes).

Three independent pieces, each usable from ``tools/benchmark.py`` and from a config:

* :func:`compile_backbone` / :class:`CompileBackboneHook` — ``torch.compile`` of the ViT
  blocks of :class:`SVIPVisionTransformer`, with a fallback to eager execution (and a logged
  reason) when compilation fails.
* :func:`sdpa_backend_context` / :class:`SDPABackendHook` — choose the kernel behind
  ``F.scaled_dot_product_attention`` (the fused attention of the target pass and inference).
* :func:`optimizer_impl_cfg` — an optimizer config with ``fused=True`` or ``foreach=True``.

``import svip_mm`` imports this module (``svip_mm.engine`` does) and so registers the hooks;
nothing runs until a config asks for them::

    custom_imports = dict(imports=['svip_mm'], allow_failed_imports=False)
    custom_hooks = [..., dict(type='SDPABackendHook', backend='auto'),
                    dict(type='CompileBackboneHook')]

Why the blocks and not the whole backbone: the source pass asks
``SVIPVisionTransformer.encode(..., return_attn=True)`` for attention maps, which it obtains
through a forward hook registered on each block's ``attn.qkv`` for the duration of one call.
TorchDynamo does not guard on module hooks (``skip_nnmodule_hook_guards``), so a block
compiled without the hook silently ignores it later (and one compiled with it keeps calling
a stale hook). The installed forward therefore runs the compiled graph only while no hook is
registered on any of the block's submodules and the eager forward otherwise: the target pass
and inference run compiled, the source pass eager. ``SVIPClassifier`` calls
``backbone.embed`` / ``backbone.encode`` rather than ``backbone.forward``, so compiling the
backbone module itself (or MMEngine's ``cfg.compile``, which compiles ``train_step`` and would
trace the hook registration) is not a substitute.
"""
import inspect
import logging
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Dict, List, Optional

import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

# ---------------------------------------------------------------------------- torch.compile


@dataclass
class CompileState:
    """What :func:`compile_backbone` did, and what happened since.

    Attributes:
        requested: compilation was asked for.
        active: compiled graphs are in use (False after a fallback).
        backend / mode: the ``torch.compile`` settings.
        reason: why compilation is not active (``None`` while it is).
        compiled_calls / eager_calls: block calls that ran the compiled graph / the eager
            forward (eager: a hook was registered on a submodule, or after a fallback).
    """
    requested: bool
    active: bool
    backend: str = 'inductor'
    mode: Optional[str] = None
    reason: Optional[str] = None
    compiled_calls: int = 0
    eager_calls: int = 0
    _blocks: List[nn.Module] = field(default_factory=list, repr=False)

    def fall_back(self, reason: str) -> None:
        """Switch every block to eager execution for the rest of the run and log why."""
        if self.active:
            self.active = False
            self.reason = reason
            print_log(f'torch.compile of the backbone blocks failed; running eager from now '
                      f'on. Reason: {reason}', logger='current', level=logging.WARNING)

    def summary(self) -> str:
        """One line for tables and logs: ``off``, ``on (backend)`` or ``fallback: reason``."""
        if not self.requested:
            return 'off'
        if self.active:
            return f'on ({self.backend}{", " + self.mode if self.mode else ""})'
        return f'fallback: {self.reason}'

    def as_dict(self) -> Dict[str, Any]:
        return dict(requested=self.requested, active=self.active, backend=self.backend,
                    mode=self.mode, reason=self.reason, compiled_calls=self.compiled_calls,
                    eager_calls=self.eager_calls)


def describe_exception(exc: BaseException, limit: int = 300) -> str:
    """``Type: first line`` of an exception and, if it wraps one, of its root cause."""
    def line(e: BaseException) -> str:
        text = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), '')
        return f'{type(e).__name__}: {text}' if text else type(e).__name__
    root, seen = exc, {id(exc)}
    while True:
        nxt = getattr(root, 'inner_exception', None) or root.__cause__
        if nxt is None or id(nxt) in seen:
            break
        seen.add(id(nxt))
        root = nxt
    text = line(exc) if root is exc else f'{line(exc)} <- {line(root)}'
    return text[:limit]


def _submodules_have_hooks(modules: List[nn.Module]) -> bool:
    """True when a forward/backward hook is registered on one of ``modules`` or globally."""
    from torch.nn.modules import module as module_mod
    if (module_mod._global_forward_hooks or module_mod._global_forward_pre_hooks
            or module_mod._global_backward_hooks or module_mod._global_backward_pre_hooks):
        return True
    for m in modules:
        if (m._forward_hooks or m._forward_pre_hooks or m._backward_hooks
                or m._backward_pre_hooks):
            return True
    return False


class _DispatchingForward:
    """Installed as ``block.forward``: compiled graph unless a submodule has hooks."""

    def __init__(self, block: nn.Module, compiled: Callable, state: CompileState):
        self.eager = type(block).forward.__get__(block)
        self.compiled = compiled
        self.state = state
        # the block's own hooks run outside forward (in Module.__call__), so only the
        # submodules matter
        self.submodules = [m for m in block.modules() if m is not block]

    def __call__(self, *args, **kwargs):
        state = self.state
        if not state.active or _submodules_have_hooks(self.submodules):
            state.eager_calls += 1
            return self.eager(*args, **kwargs)
        try:
            out = self.compiled(*args, **kwargs)
        except torch.OutOfMemoryError:
            raise
        except Exception as exc:  # compile errors surface at the first call of a new graph
            state.fall_back(describe_exception(exc))
            state.eager_calls += 1
            return self.eager(*args, **kwargs)
        state.compiled_calls += 1
        return out


def compile_backbone(backbone: nn.Module, backend: str = 'inductor', mode: Optional[str] = None,
                     dynamic: Optional[bool] = None, fullgraph: bool = False,
                     options: Optional[dict] = None) -> CompileState:
    """``torch.compile`` each transformer block of an SVIP backbone, in place.

    The blocks share one code object, so TorchDynamo compiles one graph per input signature
    (train / eval, batch size, autocast state) for all of them. Compilation is lazy: errors
    appear at the first call, at which point every block falls back to eager execution and
    the reason is logged and kept in the returned state. Parameters, ``state_dict`` keys and
    module identity are unchanged; :func:`uncompile_backbone` restores plain eager blocks.
    Compile a model after any ``copy.deepcopy`` of it, not before.

    Args:
        backbone: a module with a ``blocks`` ``ModuleList`` (:class:`SVIPVisionTransformer`).
        backend / mode / dynamic / fullgraph / options: passed to ``torch.compile``.

    Returns:
        a :class:`CompileState` (``active`` False with a ``reason`` if ``torch.compile``
        itself refused, e.g. an unknown backend or no ``torch.compile`` in this torch).
    """
    blocks = getattr(backbone, 'blocks', None)
    if not isinstance(blocks, nn.ModuleList) or len(blocks) == 0:
        raise TypeError(f'compile_backbone needs a backbone with a non-empty `blocks` '
                        f'ModuleList (SVIPVisionTransformer); got {type(backbone).__name__}')
    state = CompileState(requested=True, active=True, mode=mode,
                         backend=backend if isinstance(backend, str) else getattr(
                             backend, '__name__', repr(backend)))
    if not hasattr(torch, 'compile'):
        state.fall_back(f'torch {torch.__version__} has no torch.compile')
        return state
    for block in blocks:
        if isinstance(block.__dict__.get('forward'), _DispatchingForward):
            raise RuntimeError('this backbone is already compiled; call uncompile_backbone '
                               'first')
    kwargs = dict(backend=backend, mode=mode, dynamic=dynamic, fullgraph=fullgraph)
    if options:
        kwargs['options'] = options
    installed = []
    try:
        for block in blocks:
            compiled = torch.compile(type(block).forward.__get__(block), **kwargs)
            installed.append((block, _DispatchingForward(block, compiled, state)))
    except Exception as exc:  # e.g. unknown backend, bad mode/options
        state.fall_back(describe_exception(exc))
        return state
    for block, forward in installed:
        block.forward = forward
    state._blocks = [block for block, _ in installed]
    return state


def uncompile_backbone(backbone: nn.Module) -> None:
    """Remove what :func:`compile_backbone` installed: the blocks run eagerly again."""
    for block in getattr(backbone, 'blocks', []):
        if isinstance(block.__dict__.get('forward'), _DispatchingForward):
            del block.forward


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if is_model_wrapper(model) else model


@HOOKS.register_module()
class CompileBackboneHook(Hook):
    """Compile the backbone blocks of the runner's model at the start of the run.

    See :func:`compile_backbone`; a compile failure is logged and training continues eager.

    Args:
        backend / mode / dynamic / fullgraph: ``torch.compile`` settings.
    """
    priority = 'VERY_LOW'

    def __init__(self, backend: str = 'inductor', mode: Optional[str] = None,
                 dynamic: Optional[bool] = None, fullgraph: bool = False):
        self.kwargs = dict(backend=backend, mode=mode, dynamic=dynamic, fullgraph=fullgraph)
        self.state: Optional[CompileState] = None

    def before_run(self, runner) -> None:
        backbone = getattr(_unwrap(runner.model), 'backbone', None)
        if backbone is None:
            raise TypeError('CompileBackboneHook needs a model with a `backbone` attribute')
        self.state = compile_backbone(backbone, **self.kwargs)
        runner.logger.info(f'backbone blocks: torch.compile {self.state.summary()}')

    def after_run(self, runner) -> None:
        if self.state is not None:
            runner.logger.info(f'backbone compile: {self.state.summary()}; block calls '
                               f'compiled={self.state.compiled_calls}, '
                               f'eager={self.state.eager_calls}')


# ---------------------------------------------------------------------------- SDPA backend
SDPA_BACKENDS = ('default', 'math', 'flash', 'efficient', 'cudnn')


def resolve_sdpa_backend(name: str, device_type: str, amp: bool = False) -> str:
    """``'auto'`` -> ``'math'`` on the CPU under bf16 autocast, else ``'default'`` (torch's
    own choice); other names are checked and returned.

    On the CPU torch picks its flash-attention kernel; at SVIP's sequence lengths (65 tokens
    for the tiny config, 197 for ViT-B/16) its bf16 backward is several times slower than the
    unfused math path, while in fp32 the two are about equally fast and flash keeps less for
    the backward pass (docs/benchmarks.md). On CUDA the fused kernels are the point.
    """
    if name == 'auto':
        return 'math' if device_type == 'cpu' and amp else 'default'
    if name not in SDPA_BACKENDS:
        raise ValueError(f"sdpa backend must be 'auto' or one of {SDPA_BACKENDS}, got {name!r}")
    return name


def sdpa_backend_context(name: str) -> ContextManager:
    """A context in which ``F.scaled_dot_product_attention`` uses only the named backend
    (``'default'``: no restriction)."""
    if name == 'default':
        return nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel
    table = dict(math=SDPBackend.MATH, flash=SDPBackend.FLASH_ATTENTION,
                 efficient=SDPBackend.EFFICIENT_ATTENTION, cudnn=SDPBackend.CUDNN_ATTENTION)
    if name not in table:
        raise ValueError(f'sdpa backend must be one of {SDPA_BACKENDS}, got {name!r}')
    return sdpa_kernel([table[name]])


@HOOKS.register_module()
class SDPABackendHook(Hook):
    """Restrict ``F.scaled_dot_product_attention`` to one backend for the whole run.

    Args:
        backend: ``'auto'`` (math on the CPU when the optimizer wrapper autocasts, i.e.
            ``AutocastOptimWrapper`` or ``AmpOptimWrapper``; torch's choice otherwise) or one
            of :data:`SDPA_BACKENDS`.
    """
    priority = 'VERY_HIGH'

    def __init__(self, backend: str = 'auto'):
        if backend != 'auto' and backend not in SDPA_BACKENDS:
            raise ValueError(f"backend must be 'auto' or one of {SDPA_BACKENDS}, got "
                             f'{backend!r}')
        self.backend = backend
        self._ctx: Optional[ContextManager] = None

    def before_run(self, runner) -> None:
        device = next(_unwrap(runner.model).parameters()).device.type
        wrapper = getattr(runner, 'optim_wrapper', None)
        amp = type(wrapper).__name__ in ('AutocastOptimWrapper', 'AmpOptimWrapper')
        name = resolve_sdpa_backend(self.backend, device, amp)
        self._ctx = sdpa_backend_context(name)
        self._ctx.__enter__()
        runner.logger.info(f'scaled_dot_product_attention backend: {name}')

    def after_run(self, runner) -> None:
        if self._ctx is not None:
            self._ctx.__exit__(None, None, None)
            self._ctx = None


# ---------------------------------------------------------------------------- optimizer
OPTIMIZER_IMPLS = ('auto', 'default', 'fused', 'foreach', 'for-loop')


def optimizer_impl_cfg(optimizer_cfg: dict, impl: str, device_type: str) -> dict:
    """A copy of an MMEngine optimizer config that asks torch for one implementation.

    Args:
        optimizer_cfg: e.g. ``dict(type='AdamW', lr=...)`` (type: a torch.optim name).
        impl: ``'fused'`` (one kernel for all parameters: ``fused=True``), ``'foreach'``
            (multi-tensor ops), ``'for-loop'`` (one parameter at a time), ``'default'``
            (torch's choice: foreach on CUDA, for-loop on the CPU) or ``'auto'`` (fused on
            CUDA, foreach elsewhere).
        device_type: where the parameters live (``'cpu'``, ``'cuda'``).

    Config snippet for a GPU run (Adam/AdamW/SGD)::

        optim_wrapper = dict(optimizer=dict(fused=True))
    """
    if impl not in OPTIMIZER_IMPLS:
        raise ValueError(f'optimizer impl must be one of {OPTIMIZER_IMPLS}, got {impl!r}')
    cfg = dict(optimizer_cfg)
    for key in ('fused', 'foreach'):
        cfg.pop(key, None)
    if impl == 'default':
        return cfg
    if impl == 'auto':
        impl = 'fused' if device_type == 'cuda' else 'foreach'
    type_name = cfg.get('type')
    optim_cls = getattr(torch.optim, type_name, None) if isinstance(type_name, str) else type_name
    params = inspect.signature(optim_cls).parameters if inspect.isclass(optim_cls) else {}
    flag = {'fused': 'fused', 'foreach': 'foreach', 'for-loop': 'foreach'}[impl]
    if flag not in params:
        raise ValueError(f'optimizer {type_name!r} has no {flag!r} option, so impl={impl!r} '
                         "cannot be applied; use impl='default'")
    if impl == 'fused':
        cfg['fused'] = True
    else:
        cfg['foreach'] = impl == 'foreach'
    return cfg


__all__ = ['CompileBackboneHook', 'CompileState', 'OPTIMIZER_IMPLS', 'SDPABackendHook',
           'SDPA_BACKENDS', 'compile_backbone', 'optimizer_impl_cfg', 'resolve_sdpa_backend',
           'sdpa_backend_context', 'uncompile_backbone']
