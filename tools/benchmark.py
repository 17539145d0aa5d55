#!/usr/bin/env python
"""Speed and memory of training and inference of any ZSL config; for SVIP, the efficient path
against a naive reference.

    python tools/benchmark.py CONFIG [--device cpu|cuda] [--batch-size B] [--infer-batch-size B]
        [--iters N] [--warmup N] [--repeats N] [--amp] [--compile] [--sdpa-backend NAME]
        [--optimizer-impl NAME] [--ablate] [--threads N] [--json OUT] [--cfg-options k=v ...]

The model is built from the config with random weights and random inputs of the config's image
size, so no data, word-vector file or pretrained weights are needed: a missing word-vector file
is replaced by random vectors [K, --word-vector-dim], ``Pretrained`` ``init_cfg`` entries are
removed, and random class attributes (75 % of the classes seen) and attribute groups are set.

Models: an ``SVIPClassifier`` config gets the rows below. Any other ZSL config (mmpretrain's
``ImageClassifier`` with a ZSL head: ``configs/baseline_vit_synthetic.py``, ``configs/apn``,
``configs/transzero``) gets one row, ``model``, as the config builds it (with ``--amp``: bf16
autocast; ``--optimizer-impl`` as for the fast row): the fast-path-vs-reference comparison is
SVIP's (its two attention implementations and compiled blocks), so it does not apply, the
output says so, and ``speedup`` / ``memory_ratio`` are None; ``--ablate`` and ``--compile``
are noted as not applied. Its inference (``--infer-api infer``) is ``extract_feat``, the head's
forward (``pred_attributes``) and ``score_classes`` over all classes.

Rows of an SVIP config, all built from one set of initial weights and measured in the same
process:

* ``reference`` — the naive path: ``backbone.attention='explicit'`` (attention probabilities
  per head with autograd state in both passes, as the released SVIP code), fp32, no autocast,
  no compile, torch's default optimizer implementation.
* ``fast`` — ``attention='fused'`` (SDPA; source-pass maps recomputed head-averaged under
  no_grad), the SDPA backend of ``--sdpa-backend``, the optimizer implementation of
  ``--optimizer-impl``, bf16 autocast with ``--amp`` and ``torch.compile`` of the blocks with
  ``--compile`` (falling back to eager, with the reason logged, if compilation fails).
* with ``--ablate``, intermediate rows that add the fast path's changes one at a time.

For each row: training images/s of the full two-pass step through MMEngine
(``model.train_step``: data preprocessor, ``loss``, backward, gradient clipping, optimizer step),
inference images/s (``--infer-api infer``: selector, context token, one encode, head, class
scores; ``predict``: mmpretrain's ``test_step`` including the DataSamples), and peak memory.
Each row gets ``--warmup`` untimed steps, then ``--repeats`` timed runs of ``--iters`` steps;
the runs of all rows are interleaved (the order alternates) and the median is reported, so the
ratios hold on a busy machine even when the absolute figures do not.

Memory: on CUDA ``torch.cuda.max_memory_allocated``; on the CPU the process's peak resident
set (``VmHWM`` in /proc, reset before each measurement; ``resource.getrusage`` elsewhere, which
cannot be reset). All rows live in one process, so a row's figure is its own resident tensors
(parameters, buffers, optimizer state, input batch) plus the growth of the peak during one
step. ``saved_activation_bytes`` (distinct tensors autograd keeps for the backward pass of
one training step, parameters excluded) does not depend on the allocator and is exact on
every device. On CUDA, ``host_syncs`` counts the synchronising calls of one training step
(``torch.cuda.set_sync_debug_mode``).

JSON (``--json``): top-level ``config``, ``model_kind`` (``'svip'`` / ``'image_classifier'``),
``model`` (e.g. ``'ImageClassifier with APNHead'``), ``comparison`` (what the ratios compare,
or why there are none), ``device``, ``device_name``, ``num_threads``,
``torch``, ``timm``, ``mmengine``, ``mmpretrain``, ``python``, ``date``, ``load_avg_start``,
``load_avg_end``, ``batch_size``, ``infer_batch_size``, ``image_size``, ``iters``, ``warmup``,
``repeats``, ``seed``, ``infer_api``, ``mem_method``, ``cfg_options``, ``notes``, ``rows``,
``speedup`` (``train`` / ``infer``: fast over reference images/s; ``train_cpu_time`` /
``infer_cpu_time``: the same per CPU-second, CPU only) and ``memory_ratio`` (``train`` /
``infer`` / ``train_saved``: fast over reference). Each row: ``name``, ``attention``, ``amp``,
``sdpa_backend``, ``optimizer``, ``compile``, ``compile_state``, ``train`` and ``infer``
(``None`` when skipped) with ``images_per_s`` (median of wall-clock runs), ``runs``,
``images_per_cpu_s`` and ``cpu_time_runs`` (images per second of process CPU time; CPU only,
else ``None``), ``peak_mem_bytes``, ``process_peak_mem_bytes``, ``first_step_s``; ``train``
also has ``saved_activation_bytes`` and ``host_syncs`` (CUDA only, else ``None``).

On a shared CPU, other processes steal time slices: wall-clock rates then vary from run to
run, while images per CPU-second (with ``--threads 1``, where no thread spin-waits) mostly
do not; both are reported.
"""
import argparse
import copy
import ctypes
import datetime
import gc
import json
import os
import os.path as osp
import platform
import statistics
import sys
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

import svip_mm  # noqa: E402,F401
from svip_mm.apis import backbone_geometry, model_kind  # noqa: E402
from svip_mm.engine.fast_path import (OPTIMIZER_IMPLS, SDPA_BACKENDS,  # noqa: E402
                                      CompileState, compile_backbone, optimizer_impl_cfg,
                                      resolve_sdpa_backend, sdpa_backend_context)

ROW_KEYS = ('name', 'attention', 'amp', 'sdpa_backend', 'optimizer', 'compile',
            'compile_state', 'train', 'infer')
PHASE_KEYS = ('images_per_s', 'runs', 'images_per_cpu_s', 'cpu_time_runs', 'peak_mem_bytes',
              'process_peak_mem_bytes', 'first_step_s')
TRAIN_KEYS = PHASE_KEYS + ('saved_activation_bytes', 'host_syncs')
TOP_KEYS = ('config', 'model_kind', 'model', 'comparison', 'device', 'device_name',
            'num_threads', 'torch', 'timm', 'mmengine',
            'mmpretrain', 'python', 'date', 'load_avg_start', 'load_avg_end', 'batch_size',
            'infer_batch_size', 'image_size', 'iters', 'warmup', 'repeats', 'seed',
            'infer_api', 'mem_method', 'cfg_options', 'notes', 'rows', 'speedup',
            'memory_ratio')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Training / inference speed and peak memory of a ZSL config (SVIP, baseline, '
        'APN, TransZero); for SVIP the efficient path against the naive reference path, in one '
        'run')
    parser.add_argument('config', help='config file (e.g. configs/svip_vit_synthetic.py)')
    parser.add_argument('--device', choices=['cpu', 'cuda'],
                        help='default: cuda when available, else cpu')
    parser.add_argument('--batch-size', type=int,
                        help="training batch (default: the config's train_dataloader batch)")
    parser.add_argument('--infer-batch-size', type=int,
                        help='inference batch (default: the training batch)')
    parser.add_argument('--iters', type=int, default=10, help='timed steps per run')
    parser.add_argument('--warmup', type=int, default=3, help='untimed steps per row first')
    parser.add_argument('--repeats', type=int, default=5,
                        help='timed runs per row (interleaved across rows); median reported')
    parser.add_argument('--amp', action='store_true', help='fast row: bf16 autocast')
    parser.add_argument('--compile', action='store_true',
                        help='fast row: torch.compile of the backbone blocks (falls back to '
                        'eager with a logged reason if compilation fails)')
    parser.add_argument('--compile-backend', default='inductor',
                        help='torch.compile backend (default inductor)')
    parser.add_argument('--compile-mode', default=None,
                        help='torch.compile mode, e.g. max-autotune-no-cudagraphs')
    parser.add_argument('--sdpa-backend', default='auto', choices=('auto', ) + SDPA_BACKENDS,
                        help="fast row's scaled_dot_product_attention backend; auto: math on "
                        "the CPU with --amp, torch's choice otherwise")
    parser.add_argument('--optimizer-impl', default='auto', choices=OPTIMIZER_IMPLS,
                        help="fast row's optimizer implementation; auto: fused on CUDA, "
                        'foreach on the CPU')
    parser.add_argument('--ablate', action='store_true',
                        help='add rows between reference and fast, one change at a time')
    parser.add_argument('--only', choices=['train', 'infer'], help='measure one phase only')
    parser.add_argument('--infer-api', choices=['infer', 'predict'], default='infer',
                        help='infer: model compute and class scores; predict: test_step with '
                        'DataSamples')
    parser.add_argument('--threads', type=int, help='torch.set_num_threads (CPU)')
    parser.add_argument('--img-size', type=int, help="input size (default: the backbone's)")
    parser.add_argument('--word-vector-dim', type=int, default=300,
                        help='width of the random word vectors used when the file is absent')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', metavar='OUT', help='write the results here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. model.neck.keep_k=30')
    args = parser.parse_args(argv)
    for name in ('batch_size', 'infer_batch_size', 'iters', 'repeats', 'threads', 'img_size',
                 'word_vector_dim'):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1, got {value}')
    if args.warmup < 1:
        parser.error(f'--warmup must be >= 1 (the first step allocates optimizer state and '
                     f'compiles), got {args.warmup}')
    if not osp.isfile(args.config):
        parser.error(f'config not found: {args.config}')
    if args.device is None:
        args.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device is available to this torch '
                     f'({torch.__version__})')
    return args


# ---------------------------------------------------------------------------- variants
@dataclass
class Variant:
    """One row: which parts of the efficient path are on."""
    name: str
    attention: str = 'explicit'
    amp: bool = False
    sdpa_backend: str = 'default'
    optimizer_impl: str = 'default'
    compile: bool = False


def _optimizer_impl(args, device: str) -> str:
    if args.optimizer_impl == 'auto':
        return 'fused' if device == 'cuda' else 'foreach'
    return args.optimizer_impl


def make_variants(args, device: str, kind: str = 'svip') -> List[Variant]:
    """SVIP: reference, optional ablation ladder, fast. Another ZSL model: one row, the model
    as configured (``--amp`` and ``--optimizer-impl`` applied)."""
    if kind != 'svip':
        return [Variant('model', attention='-', amp=args.amp, sdpa_backend='default',
                        optimizer_impl=_optimizer_impl(args, device))]
    reference = Variant('reference')
    fast = Variant('fast', attention='fused', amp=args.amp,
                   sdpa_backend=resolve_sdpa_backend(args.sdpa_backend, device, args.amp),
                   optimizer_impl=args.optimizer_impl, compile=args.compile)
    fast.optimizer_impl = _optimizer_impl(args, device)
    variants = [reference]
    if args.ablate:
        steps = [('+fused-attn', dict(attention='fused'))]
        if fast.sdpa_backend != 'default':
            steps.append((f'+sdpa-{fast.sdpa_backend}', dict(sdpa_backend=fast.sdpa_backend)))
        if fast.optimizer_impl != 'default':
            steps.append((f'+{fast.optimizer_impl}-optim',
                          dict(optimizer_impl=fast.optimizer_impl)))
        if fast.amp:
            steps.append(('+bf16', dict(amp=True)))
        current = dict()
        for name, change in steps[:-1] if not fast.compile else steps:
            current.update(change)
            variants.append(Variant(name, **current))
    variants.append(fast)
    return variants


# ---------------------------------------------------------------------------- model and data
def _strip_pretrained(node, notes: List[str], where: str = 'model') -> None:
    """Remove ``init_cfg=dict(type='Pretrained', ...)`` entries anywhere in a model config."""
    if isinstance(node, dict):
        init = node.get('init_cfg')
        inits = init if isinstance(init, list) else [init]
        if any(isinstance(i, dict) and i.get('type') == 'Pretrained' for i in inits):
            node.pop('init_cfg')
            notes.append(f'removed the Pretrained init_cfg of {where} (random weights)')
        for key, value in node.items():
            _strip_pretrained(value, notes, f'{where}.{key}')
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _strip_pretrained(value, notes, f'{where}[{i}]')


def load_config(path: str, cfg_options: Optional[dict]) -> Config:
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if 'model' not in cfg:
        raise ValueError(f'{path} has no `model`')
    if 'optim_wrapper' not in cfg:
        raise ValueError(f'{path} has no `optim_wrapper` (needed for the training step)')
    return cfg


def _random_word_vectors(module: Optional[dict], where: str, rng, args,
                         notes: List[str]) -> None:
    """A missing word-vector file of ``module`` (SVIP's neck, TransZero's head) -> random
    vectors ``[K, --word-vector-dim]``."""
    if not isinstance(module, dict) or 'word_vectors' not in module or \
            module.get('context_init', 'word_vectors') != 'word_vectors':
        return
    vectors = module.get('word_vectors')
    if vectors is None or (isinstance(vectors, (str, os.PathLike)) and not osp.isfile(vectors)):
        k = int(module['num_attributes'])
        module['word_vectors'] = rng.standard_normal((k, args.word_vector_dim)).astype(
            np.float32)
        notes.append(f'word vectors {vectors!r} of model.{where} not found: random [{k}, '
                     f'{args.word_vector_dim}] vectors')


def build_base_model(cfg: Config, args, notes: List[str]) -> nn.Module:
    """The ZSL model of the config, random weights, with random class attributes.

    Raises:
        ValueError: the config builds no ZSL model (neither an SVIPClassifier nor a classifier
            with a ZSL head), naming what it builds.
    """
    from mmpretrain.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model_cfg = copy.deepcopy(cfg.model.to_dict() if hasattr(cfg.model, 'to_dict')
                              else dict(cfg.model))
    if 'data_preprocessor' not in model_cfg and cfg.get('data_preprocessor') is not None:
        model_cfg['data_preprocessor'] = copy.deepcopy(dict(cfg.data_preprocessor))
    _strip_pretrained(model_cfg, notes)
    rng = np.random.default_rng(args.seed)
    for part in ('neck', 'head'):
        _random_word_vectors(model_cfg.get(part), part, rng, args, notes)
    head = model_cfg.get('head') or {}
    for key in ('class_attributes', 'attribute_group_ids'):
        if isinstance(head.get(key), (str, os.PathLike)) and not osp.isfile(head[key]):
            notes.append(f'head.{key} {head[key]!r} not found: random values')
            head.pop(key)
            if key == 'class_attributes':
                head.pop('seen_classes', None)
    torch.manual_seed(args.seed)
    model = MODELS.build(model_cfg)
    try:
        model_kind(model)
    except TypeError as err:
        raise ValueError(f'tools/benchmark.py measures ZSL models: {err}') from None
    head = model.head
    if not bool(head.seen_mask.any()):
        num_seen = min(head.num_classes, max(2, round(0.75 * head.num_classes)))
        head.set_class_attributes(rng.random((head.num_classes, head.num_attributes)),
                                  list(range(num_seen)))
        notes.append(f'random class attributes; classes 0..{num_seen - 1} of '
                     f'{head.num_classes} seen')
    if bool((head.attribute_group_ids < 0).all()):
        groups = max(1, min(28, head.num_attributes // 4))
        head.set_attribute_groups(np.arange(head.num_attributes) % groups)
        notes.append(f'random attribute groups ({groups}) for the decorrelation loss')
    return model


def make_train_data(model: nn.Module, batch: int, size: Tuple[int, int], device: str,
                    seed: int) -> dict:
    """A collated batch as a dataloader gives it: uint8 images + DataSamples (seen labels)."""
    from mmpretrain.structures import DataSample
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (batch, 3, *size), generator=g, dtype=torch.uint8)
    seen = torch.nonzero(model.head.seen_mask.cpu()).flatten()
    labels = seen[torch.randint(0, len(seen), (batch, ), generator=g)]
    samples = [DataSample().set_gt_label(int(label)) for label in labels]
    return dict(inputs=images.to(device), data_samples=samples)


def make_infer_inputs(model: nn.Module, batch: int, size: Tuple[int, int], device: str,
                      seed: int) -> torch.Tensor:
    """Preprocessed (normalised, float) images for the inference timing."""
    g = torch.Generator().manual_seed(seed + 1)
    images = torch.randint(0, 256, (batch, 3, *size), generator=g, dtype=torch.uint8)
    with torch.no_grad():
        return model.data_preprocessor(dict(inputs=images.to(device)), False)['inputs']


# ---------------------------------------------------------------------------- memory
def _proc_status_kb(field: str) -> Optional[int]:
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class MemoryMeter:
    """Peak memory of one callable: CUDA allocator or the process's resident set."""

    def __init__(self, device: str):
        self.device = device
        if device == 'cuda':
            self.method = 'cuda_max_memory_allocated'
        elif _proc_status_kb('VmHWM') is not None and self._reset_hwm():
            self.method = 'rss_vmhwm_reset'
        else:
            self.method = 'ru_maxrss_lifetime'
        try:
            self._malloc_trim = ctypes.CDLL('libc.so.6').malloc_trim
        except (OSError, AttributeError):
            self._malloc_trim = None

    @staticmethod
    def _reset_hwm() -> bool:
        try:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')
            return True
        except OSError:
            return False

    def _current_and_reset(self) -> int:
        gc.collect()
        if self.device == 'cuda':
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            return torch.cuda.memory_allocated()
        if self._malloc_trim is not None:
            self._malloc_trim(0)  # hand freed heap pages back, so growth shows in the RSS
        if self.method == 'rss_vmhwm_reset':
            self._reset_hwm()
            return _proc_status_kb('VmRSS') * 1024
        return self._ru_maxrss()

    def _peak(self) -> int:
        if self.device == 'cuda':
            torch.cuda.synchronize()
            return torch.cuda.max_memory_allocated()
        if self.method == 'rss_vmhwm_reset':
            return _proc_status_kb('VmHWM') * 1024
        return self._ru_maxrss()

    @staticmethod
    def _ru_maxrss() -> int:
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == 'darwin' else peak * 1024

    def measure(self, fn: Callable[[], None], resident_bytes: int) -> Tuple[int, int]:
        """Run ``fn`` once; return (resident + peak growth, process peak) in bytes."""
        start = self._current_and_reset()
        fn()
        peak = self._peak()
        return resident_bytes + max(0, peak - start), peak


def tensor_bytes(tensors) -> int:
    seen, total = set(), 0
    for t in tensors:
        if isinstance(t, torch.Tensor) and t.numel():
            key = (t.untyped_storage().data_ptr(), t.device)
            if key not in seen:
                seen.add(key)
                total += t.untyped_storage().nbytes()
    return total


def optimizer_state_tensors(optim_wrapper) -> List[torch.Tensor]:
    out = []
    for state in optim_wrapper.optimizer.state.values():
        out.extend(v for v in state.values() if isinstance(v, torch.Tensor))
    return out


def saved_activation_bytes(model: nn.Module, fn: Callable[[], None]) -> int:
    """Bytes of the distinct tensors autograd saves for backward while ``fn`` runs,
    parameters and buffers excluded."""
    own = {p.untyped_storage().data_ptr() for p in model.parameters()}
    own |= {b.untyped_storage().data_ptr() for b in model.buffers()}
    storages: Dict[int, int] = {}

    def pack(t):
        if isinstance(t, torch.Tensor) and t.numel():
            ptr = t.untyped_storage().data_ptr()
            if ptr not in own:
                storages[ptr] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(storages.values())


def count_host_syncs(fn: Callable[[], None]) -> int:
    """CUDA only: synchronising calls made while ``fn`` runs."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        torch.cuda.set_sync_debug_mode('warn')
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode('default')
    return sum('synchroniz' in str(w.message).lower() for w in caught)


# ---------------------------------------------------------------------------- one row
class Row:
    """A model copy, its optimizer wrapper and the two timed callables of one variant."""

    def __init__(self, variant: Variant, base: nn.Module, cfg: Config, device: str,
                 train_data: Optional[dict], infer_inputs: Optional[torch.Tensor],
                 args):
        self.variant, self.device = variant, device
        self.model = copy.deepcopy(base).to(device)
        self.kind = model_kind(base)
        if self.kind == 'svip':
            self.model.backbone.attention = variant.attention
        self.train_data, self.infer_inputs, self.infer_api = train_data, infer_inputs, \
            args.infer_api
        self.optim_wrapper = None
        if train_data is not None:
            ow_cfg = copy.deepcopy(cfg.optim_wrapper.to_dict() if hasattr(
                cfg.optim_wrapper, 'to_dict') else dict(cfg.optim_wrapper))
            for key in ('dtype', 'loss_scale', 'cast_dtype'):
                ow_cfg.pop(key, None)
            ow_cfg['type'] = 'AutocastOptimWrapper' if variant.amp else 'OptimWrapper'
            ow_cfg['optimizer'] = optimizer_impl_cfg(ow_cfg['optimizer'],
                                                     variant.optimizer_impl, device)
            self.optim_wrapper = build_optim_wrapper(self.model, ow_cfg)
        opt = ow_cfg['optimizer'] if train_data is not None else {}
        impl = ('fused' if opt.get('fused') else 'foreach' if opt.get('foreach') else
                'for-loop' if opt.get('foreach') is False else 'torch default')
        self.optimizer_desc = f"{opt.get('type', '-')} ({impl})" if opt else '-'
        self.compile_state = CompileState(requested=False, active=False)
        if variant.compile:
            self.compile_state = compile_backbone(self.model.backbone,
                                                  backend=args.compile_backend,
                                                  mode=args.compile_mode)
        self.result = dict(name=variant.name, attention=variant.attention, amp=variant.amp,
                           sdpa_backend=variant.sdpa_backend, optimizer=self.optimizer_desc,
                           compile='off', compile_state=None, train=None, infer=None)
        self.train_runs: List[float] = []
        self.infer_runs: List[float] = []

    def _ctx(self):
        return sdpa_backend_context(self.variant.sdpa_backend)

    def _sync(self):
        if self.device == 'cuda':
            torch.cuda.synchronize()

    def train_step(self) -> None:
        self.model.train()
        with self._ctx():
            self.model.train_step(self.train_data, self.optim_wrapper)

    def infer_step(self) -> None:
        self.model.eval()
        amp = torch.autocast(self.device, dtype=torch.bfloat16) if self.variant.amp \
            else nullcontext()
        with self._ctx(), torch.no_grad(), amp:
            if self.infer_api == 'predict':
                self.model.test_step(dict(inputs=self.infer_inputs))
            elif self.kind == 'svip':
                attributes, _ = self.model.infer(self.infer_inputs)
                self.model.head.class_logits(attributes, 'all')
            else:
                head = self.model.head
                attributes = head(self.model.extract_feat(self.infer_inputs))
                head.score_classes(attributes, head.class_attributes)

    def warm_up(self, phase: str, steps: int) -> float:
        """Untimed steps; returns the duration of the first (compilation, allocation)."""
        step = self.train_step if phase == 'train' else self.infer_step
        first = None
        for _ in range(steps):
            start = time.perf_counter()
            step()
            self._sync()
            first = first if first is not None else time.perf_counter() - start
        return first

    def timed_run(self, phase: str, iters: int) -> float:
        """images/s over ``iters`` consecutive steps."""
        step = self.train_step if phase == 'train' else self.infer_step
        batch = (len(self.train_data['data_samples']) if phase == 'train'
                 else self.infer_inputs.shape[0])
        self._sync()
        start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(iters):
            step()
        self._sync()
        rate = batch * iters / (time.perf_counter() - start)
        cpu_rate = batch * iters / max(time.process_time() - cpu_start, 1e-9)
        runs = self.train_runs if phase == 'train' else self.infer_runs
        runs.append((rate, cpu_rate))
        return rate

    def resident_bytes(self, phase: str) -> int:
        tensors = list(self.model.parameters()) + list(self.model.buffers())
        if phase == 'train':
            tensors += optimizer_state_tensors(self.optim_wrapper)
            tensors.append(self.train_data['inputs'])
        else:
            tensors.append(self.infer_inputs)
        return tensor_bytes(tensors)


# ---------------------------------------------------------------------------- main
def _versions() -> dict:
    import mmengine
    import mmpretrain
    import timm
    return dict(torch=torch.__version__, timm=timm.__version__,
                mmengine=mmengine.__version__, mmpretrain=mmpretrain.__version__,
                python=platform.python_version())


def _device_name(device: str) -> str:
    if device == 'cuda':
        return torch.cuda.get_device_name()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return f'{line.split(":", 1)[1].strip()} ({os.cpu_count()} CPUs)'
    except OSError:
        pass
    return f'{platform.processor() or platform.machine()} ({os.cpu_count()} CPUs)'


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if a is None or not b else a / b


def _mib(value: Optional[int]) -> str:
    return '-' if value is None else f'{value / 2**20:,.0f}'


def format_table(result: dict) -> str:
    """The printed summary: one line per row, then the fast/reference ratios."""
    cpu = result['device'] == 'cpu'
    header = ['row', 'attention', 'bf16', 'sdpa', 'optimizer', 'compile', 'train img/s']
    header += ['train img/cpu-s'] if cpu else []
    header += ['train MiB', 'saved MiB', 'infer img/s'] + (['infer img/cpu-s'] if cpu else [])
    header += ['infer MiB']

    def rate(phase, key='images_per_s', runs_key='runs'):
        if not phase:
            return '-'
        runs = phase[runs_key]
        return f"{phase[key]:,.1f} [{min(runs):,.1f}-{max(runs):,.1f}]"
    lines = []
    for row in result['rows']:
        train, infer = row['train'] or {}, row['infer'] or {}
        line = [row['name'], row['attention'], 'yes' if row['amp'] else 'no',
                row['sdpa_backend'], row['optimizer'], row['compile'], rate(train)]
        line += [rate(train, 'images_per_cpu_s', 'cpu_time_runs')] if cpu else []
        line += [_mib(train.get('peak_mem_bytes')), _mib(train.get('saved_activation_bytes')),
                 rate(infer)]
        line += [rate(infer, 'images_per_cpu_s', 'cpu_time_runs')] if cpu else []
        line += [_mib(infer.get('peak_mem_bytes'))]
        lines.append(line)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
    out = ['  '.join(str(x).ljust(w) for x, w in zip(header, widths))]
    out.append('  '.join('-' * w for w in widths))
    out += ['  '.join(str(x).ljust(w) for x, w in zip(line, widths)) for line in lines]
    s, m = result['speedup'], result['memory_ratio']

    def fmt(v):
        return '-' if v is None else f'{v:.2f}x'
    speed = f"train {fmt(s['train'])}, infer {fmt(s['infer'])} images/s"
    if cpu:
        speed += (f" (per CPU-second: train {fmt(s['train_cpu_time'])}, infer "
                  f"{fmt(s['infer_cpu_time'])})")
    if result.get('model_kind', 'svip') == 'svip':
        out.append(f"fast / reference: {speed}; peak memory train {fmt(m['train'])}, infer "
                   f"{fmt(m['infer'])}, saved activations {fmt(m['train_saved'])}")
    else:
        out.append(f"{result['model']}: fast / reference comparison "
                   f"{result['comparison']}")
    out.append(f"{result['device_name']}, torch {result['torch']}, {result['num_threads']} "
               f"threads, batch {result['batch_size']} (infer {result['infer_batch_size']}), "
               f"{result['repeats']} x {result['iters']} steps, median [min-max]; load "
               f"average {result['load_avg_start']} -> {result['load_avg_end']}; memory: "
               f"{result['mem_method']}")
    return '\n'.join(out)


def run(args) -> dict:
    """Build, warm up, measure; returns the result dict (the JSON content)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device
    load_start = [round(x, 2) for x in os.getloadavg()] if hasattr(os, 'getloadavg') else None
    cfg = load_config(args.config, args.cfg_options)
    notes: List[str] = []
    base = build_base_model(cfg, args, notes)
    kind = model_kind(base)
    size = (args.img_size, args.img_size) if args.img_size else \
        backbone_geometry(base.backbone)[0]
    if kind == 'svip':
        comparison = 'fast over reference (the rows first and last)'
    else:
        comparison = (f'not applicable: {type(base).__name__} has no fast-path / reference '
                      'pair (SVIPClassifier only); the model is measured as configured')
        for flag, on in (('--ablate', args.ablate), ('--compile', args.compile)):
            if on:
                notes.append(f'{flag} not applied: SVIPClassifier only')
    batch = args.batch_size or int(cfg.get('train_dataloader', {}).get('batch_size') or 32)
    infer_batch = args.infer_batch_size or batch
    do_train, do_infer = args.only in (None, 'train'), args.only in (None, 'infer')
    train_data = make_train_data(base, batch, size, device, args.seed) if do_train else None
    base_dev = copy.deepcopy(base).to(device)
    infer_inputs = (make_infer_inputs(base_dev, infer_batch, size, device, args.seed)
                    if do_infer else None)
    del base_dev

    rows = [Row(v, base, cfg, device, train_data, infer_inputs, args)
            for v in make_variants(args, device, kind)]
    meter = MemoryMeter(device)
    phases = [p for p, on in (('train', do_train), ('infer', do_infer)) if on]
    for phase in phases:
        stats = {}
        for row in rows:
            first = row.warm_up(phase, args.warmup)
            peak, process_peak = meter.measure(
                row.train_step if phase == 'train' else row.infer_step,
                row.resident_bytes(phase))
            stats[row] = dict(images_per_s=None, runs=[], peak_mem_bytes=peak,
                              process_peak_mem_bytes=process_peak,
                              first_step_s=round(first, 4))
            if phase == 'train':
                stats[row]['saved_activation_bytes'] = (
                    None if row.compile_state.active else
                    saved_activation_bytes(row.model, row.train_step))
                stats[row]['host_syncs'] = (count_host_syncs(row.train_step)
                                            if device == 'cuda' else None)
        for r in range(args.repeats):
            for row in (rows if r % 2 == 0 else rows[::-1]):
                row.timed_run(phase, args.iters)
        for row in rows:
            runs = row.train_runs if phase == 'train' else row.infer_runs
            wall = [rate for rate, _ in runs]
            stats[row]['runs'] = [round(x, 2) for x in wall]
            stats[row]['images_per_s'] = round(statistics.median(wall), 2)
            if device == 'cpu':
                cpu = [rate for _, rate in runs]
                stats[row]['cpu_time_runs'] = [round(x, 2) for x in cpu]
                stats[row]['images_per_cpu_s'] = round(statistics.median(cpu), 2)
            else:
                stats[row]['cpu_time_runs'] = stats[row]['images_per_cpu_s'] = None
            row.result[phase] = stats[row]
    for row in rows:
        row.result['compile'] = row.compile_state.summary()
        row.result['compile_state'] = (row.compile_state.as_dict()
                                       if row.compile_state.requested else None)

    results = [row.result for row in rows]
    ref, fast = results[0], results[-1]

    def get(row, phase, key):
        # one row (not SVIP): no comparison, every ratio None
        return (row[phase] or {}).get(key) if kind == 'svip' else None
    model_name = f'{type(base).__name__} with {type(base.head).__name__}'
    result = dict(
        config=args.config, model_kind=kind, model=model_name, comparison=comparison,
        device=device, device_name=_device_name(device),
        num_threads=torch.get_num_threads(), **_versions(),
        date=datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
        load_avg_start=load_start,
        load_avg_end=[round(x, 2) for x in os.getloadavg()] if load_start else None,
        batch_size=batch, infer_batch_size=infer_batch, image_size=list(size),
        iters=args.iters, warmup=args.warmup, repeats=args.repeats, seed=args.seed,
        infer_api=args.infer_api, mem_method=meter.method,
        cfg_options=dict(args.cfg_options or {}), notes=notes, rows=results,
        speedup=dict(train=_ratio(get(fast, 'train', 'images_per_s'),
                                  get(ref, 'train', 'images_per_s')),
                     infer=_ratio(get(fast, 'infer', 'images_per_s'),
                                  get(ref, 'infer', 'images_per_s')),
                     train_cpu_time=_ratio(get(fast, 'train', 'images_per_cpu_s'),
                                           get(ref, 'train', 'images_per_cpu_s')),
                     infer_cpu_time=_ratio(get(fast, 'infer', 'images_per_cpu_s'),
                                           get(ref, 'infer', 'images_per_cpu_s'))),
        memory_ratio=dict(train=_ratio(get(fast, 'train', 'peak_mem_bytes'),
                                       get(ref, 'train', 'peak_mem_bytes')),
                          infer=_ratio(get(fast, 'infer', 'peak_mem_bytes'),
                                       get(ref, 'infer', 'peak_mem_bytes')),
                          train_saved=_ratio(get(fast, 'train', 'saved_activation_bytes'),
                                             get(ref, 'train', 'saved_activation_bytes'))))
    return result


def main(argv=None) -> dict:
    args = parse_args(argv)
    result = run(args)
    for note in result['notes']:
        print(f'note: {note}')
    print(format_table(result))
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=2)
        print(f'results written to {args.json}')
    return result


if __name__ == '__main__':
    from svip_mm.utils.tool_errors import run_tool
    run_tool(main)
