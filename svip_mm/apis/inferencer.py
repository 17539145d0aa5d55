"""Zero-shot inference on images with a trained checkpoint of any ZSL model of svip_mm.

    from svip_mm.apis import ZSLInferencer
    inferencer = ZSLInferencer('configs/apn/apn_vit_synthetic.py',
                               'work_dirs/apn_vit_synthetic/epoch_30.pth')
    result = inferencer('bird.jpg', topk=5)[0]
    result['topk'][0]        # {'label', 'class_name', 'score', 'unseen', 'rank'}
    inferencer.set_classes(['zebra-like'], [[...K attribute values...]], unseen=True,
                           extend=True)   # score a class no dataset had

The models (:attr:`ZSLInferencer.kind`):

- ``'svip'``: an :class:`SVIPClassifier`; its inference pass (:meth:`SVIPClassifier.infer`)
  also gives the keep mask and the selector's probabilities;
- ``'image_classifier'``: mmpretrain's ``ImageClassifier`` whose head is a ZSL head (a class
  table and ``score_classes``): the "ViT + attribute head" baseline
  (:class:`SemanticAttributeHead`), :class:`APNHead`, :class:`TransZeroHead`. It predicts
  with the head's own ``predict`` (``pred_attributes``, ``pred_score``), as ``tools/test.py``.

:class:`SVIPInferencer` is the same inferencer restricted to SVIP (it refuses another model,
naming :class:`ZSLInferencer`); the SVIP tutorials use it.

Class scores: over the checkpoint's class table, the model's own prediction (``pred_score``:
for SVIP the head's softmax of ``scale * sim``; for an ImageClassifier the head's ``predict``,
e.g. with TransZero's calibration bias); over a table set with :meth:`set_classes` or
:meth:`load_classes`, the softmax of the head's ``score_classes(pred_attributes, rows)``
(the same logits as the model's own for the classes it knows, less any seen / unseen
calibration, which a new class does not have).

The inferencer generates no data: it builds the model from the config, with the checkpoint's
word-vector weights (the config's word-vector file is read only when the checkpoint has none),
takes the class table, class names and attribute names from the checkpoint's
``meta.dataset_meta`` (MMEngine stores the dataset metainfo there), and preprocesses with
the config's test pipeline and the model's data preprocessor.

Every image is brought to the model's input size (the backbone's ``img_size``), so the keep
mask and the attribute maps are always on the model's grid whatever the photo's size:

- the config's test pipeline (``test_dataloader.dataset.pipeline``, else ``test_pipeline``)
  runs as in testing, without the steps that need a dataset's annotations (``Load*`` steps
  other than ``LoadImageFromFile``, e.g. ``LoadForegroundMask``; ``MaskBackgroundUnits``)
  and with ``PackInputs`` packing the image only (no ``algorithm_keys``);
- when that pipeline has no resize or crop step (the synthetic configs: their images are
  already ``img_size`` px), the inferencer appends ``ResizeEdge`` (short edge to
  ``img_size``; ``area`` interpolation when shrinking, ``bicubic`` when enlarging) and
  ``CenterCrop(img_size)``, as the real-dataset test pipelines do: the aspect ratio is kept
  and the longer side is cropped to the central square; an image of exactly
  ``img_size x img_size`` is left unchanged;
- an image that cannot be read, has no pixels, or that the pipeline does not bring to
  ``img_size x img_size`` raises one ``ValueError`` naming the image and what was expected.
"""
import copy
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS, TRANSFORMS

from ..utils.config_file import read_config
from ..utils.finite import check_finite
from ..utils.safe_checkpoint import load_checkpoint_file
from ..utils.unique_names import check_unique_names
from ..models.utils import check_unit_grid
from .class_table import ClassTable, load_class_table

__all__ = ['SVIPInferencer', 'ZSLInferencer', 'backbone_geometry', 'model_kind']

ImageInput = Union[str, os.PathLike, np.ndarray]
# pipeline steps that need a dataset's data info rather than an image (besides every Load* step
# other than the image loader): the oracle masking needs a loaded ground-truth mask
_DATASET_ONLY = ('MaskBackgroundUnits', )
# type names containing one of these set the image size (Resize, ResizeEdge, RandomResize,
# CenterCrop, RandomResizedCrop, ...); a test pipeline with none leaves sizing to the inferencer
_SIZING = ('Resize', 'Crop')
_READABLE = 'an image file OpenCV decodes (.jpg, .png, .bmp, .tif, .webp, ...)'


def _type_name(step: dict) -> str:
    t = step.get('type', '')
    return (t if isinstance(t, str) else getattr(t, '__name__', str(t))).split('.')[-1]


def _dataset_only(name: str) -> bool:
    return (name.startswith('Load') and name != 'LoadImageFromFile') or name in _DATASET_ONLY


def _read_checkpoint(path: str) -> dict:
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path!r}')
    ckpt = load_checkpoint_file(path, map_location='cpu')  # safe unpickler only
    if not isinstance(ckpt, dict):
        raise ValueError(f'{path!r} holds a {type(ckpt).__name__}; expected a checkpoint dict')
    state = ckpt.get('state_dict', ckpt)
    state = {(k[7:] if k.startswith('module.') else k): v for k, v in state.items()}
    meta = ckpt.get('meta') if isinstance(ckpt.get('meta'), dict) else {}
    return dict(state_dict=state, dataset_meta=dict(meta.get('dataset_meta') or {}))


# (model part, checkpoint key): the weights a config's word-vector file initialises (SVIP's
# context token, TransZero's attribute embeddings); the checkpoint's copy makes the file unneeded
_WORD_VECTOR_WEIGHTS = (('neck', 'neck.word_vectors'), ('head', 'head.attribute_embeddings'))
# a ZSL head: a class table (ClassTableMixin's buffers) and class scores for any table
_ZSL_HEAD = ('num_attributes', 'class_attributes', 'seen_mask', 'score_classes')


def _model_name(model) -> str:
    head = getattr(model, 'head', None)
    return type(model).__name__ + (f' with {type(head).__name__}' if head is not None else '')


def model_kind(model) -> str:
    """``'svip'`` for an :class:`SVIPClassifier` (its ``infer`` pass, neck and attribute head),
    ``'image_classifier'`` for a classifier whose head is a ZSL head (a class table:
    ``num_attributes``, ``class_attributes``, ``seen_mask``, and ``score_classes``), e.g.
    mmpretrain's ``ImageClassifier`` with :class:`SemanticAttributeHead`, :class:`APNHead` or
    :class:`TransZeroHead`.

    Raises:
        TypeError: any other model, naming it and what is missing.
    """
    if all(hasattr(model, name) for name in ('infer', 'backbone', 'neck', 'head')) and \
            getattr(model, 'neck', None) is not None:
        return 'svip'
    head = getattr(model, 'head', None)
    missing = [name for name in _ZSL_HEAD if not hasattr(head, name)]
    if head is None or missing or not hasattr(model, 'extract_feat'):
        what = 'no head' if head is None else (
            f'no {", ".join(missing)} on the head' if missing else 'no extract_feat')
        raise TypeError(f'the config builds {_model_name(model)} ({what}); expected a zero-shot '
                        'model: an SVIPClassifier, or a classifier (mmpretrain ImageClassifier) '
                        'whose head is a ZSL head (a class table and score_classes: '
                        'SemanticAttributeHead, APNHead, TransZeroHead)')
    return 'image_classifier'


def score_classes(head, attributes: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``[B, K]`` attributes, ``[C', K]`` class attribute rows (L2-normalised, any table) ->
    ``[B, C']`` class logits of ``head``: its ``score_classes``.

    Raises:
        TypeError: a head without ``score_classes``, naming it.
    """
    if hasattr(head, 'score_classes'):
        return head.score_classes(attributes, rows)
    raise TypeError(f'{type(head).__name__} has no score_classes(attributes [B, K], rows '
                    "[C', K]) -> [B, C'] logits; expected a ZSL head (see "
                    'svip_mm/models/heads/zsl_head.py)')


def backbone_geometry(backbone) -> Tuple[Tuple[int, int], Tuple[int, int]]:
    """``((H, W) input size, (ph, pw) patch size)`` of a ViT backbone: its ``img_size`` (an
    int or a pair: :class:`SVIPVisionTransformer` or mmpretrain's ``VisionTransformer``) and
    its ``patch_size``, else ``img_size / patch_resolution``.

    Raises:
        TypeError: no usable ``img_size``, naming the backbone.
    """
    size = getattr(backbone, 'img_size', None)
    size = (size, size) if isinstance(size, int) else tuple(size) if isinstance(
        size, (tuple, list)) else None
    if size is None or len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
        raise TypeError(f'the backbone {type(backbone).__name__} has no img_size (an int or '
                        f'(H, W); got {getattr(backbone, "img_size", None)!r}); the inferencer '
                        'needs the model\'s input size')
    patch = getattr(backbone, 'patch_size', None)
    if isinstance(patch, int):
        patch = (patch, patch)
    elif getattr(backbone, 'patch_resolution', None) is not None:
        res = tuple(backbone.patch_resolution)
        patch = (size[0] // res[0], size[1] // res[1])
    else:
        patch = None
    return size, patch


class ZSLInferencer:
    """Top-k zero-shot classification and top attributes for images, with any ZSL model
    (see the module docstring); for SVIP also the keep mask and the selector's probabilities.

    Args:
        config: a config file path or a :class:`mmengine.config.Config`.
        checkpoint: an svip_mm / MMEngine checkpoint (``state_dict`` + ``meta``), read with
            the safe unpickler (:func:`svip_mm.utils.load_checkpoint_file`).
        device: where the model runs (``'cpu'``, ``'cuda:0'``, ...).
        word_vectors: a ``.npy`` path or array for the word vectors of the attribute names
            (SVIP's neck, TransZero's head), used only when the checkpoint does not hold what
            they initialise (``neck.word_vectors``, ``head.attribute_embeddings``; default:
            the config's file).
        class_names: ``C`` class names; default the checkpoint's ``dataset_meta['classes']``,
            else ``class_<i>``.
        attribute_names: ``K`` attribute names; default the checkpoint's
            ``dataset_meta['attribute_names']``, else ``attribute_<k>``.
        cfg_options: overrides merged into the config.

    The model's class table (the head's ``class_attributes`` and ``seen_mask`` buffers, or
    the checkpoint's ``dataset_meta`` when the buffers were never set) is the default; see
    :meth:`set_classes` to score other classes. A checkpoint whose class table or word
    vectors hold a NaN, an inf or a value beyond float32, or whose class names repeat, is
    refused (``ValueError`` naming the checkpoint, field, class / attribute and value).

    Attributes:
        model: the model in eval mode on ``device``.
        kind: ``'svip'`` or ``'image_classifier'`` (:func:`model_kind`).
        cfg: the config.
        dataset_meta: the checkpoint's dataset metainfo (empty dict if none).
        attribute_names: the ``K`` attribute names.
        input_size: ``(H, W)`` every image is brought to: the backbone's ``img_size``.
        pipeline_description: the preprocessing steps, as error messages name them.
    """

    def __init__(self, config: Union[str, Config], checkpoint: str, device: str = 'cpu',
                 word_vectors=None, class_names: Optional[Sequence[str]] = None,
                 attribute_names: Optional[Sequence[str]] = None,
                 cfg_options: Optional[dict] = None):
        cfg = read_config(config) if isinstance(config, (str, os.PathLike)) else \
            copy.deepcopy(config)
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        self.cfg = cfg
        init_default_scope(cfg.get('default_scope', 'mmpretrain'))
        ckpt = _read_checkpoint(checkpoint)
        self.checkpoint = os.fspath(checkpoint)
        self.dataset_meta = ckpt['dataset_meta']
        self._check_checkpoint_numbers(ckpt['state_dict'])
        self.model = self._build_model(cfg, ckpt['state_dict'], word_vectors, checkpoint)
        self.model.to(torch.device(device)).eval()
        if self.kind == 'svip':
            self.model.predict_attention = False  # the attention pass is only for figures
        self.num_attributes = int(self.model.head.num_attributes)
        self.attribute_names = self._names(attribute_names, 'attribute_names',
                                           self.num_attributes, 'attribute')
        self._model_table = self._table_from_model(class_names)
        self._table = self._model_table
        self._build_pipelines(cfg)

    # ------------------------------------------------------------ construction
    def _check_checkpoint_numbers(self, state: Dict[str, torch.Tensor]) -> None:
        """Refuse a checkpoint whose class table or word vectors (buffers or
        ``dataset_meta['class_attributes']``) hold a NaN, an inf or a beyond-float32 value,
        naming the checkpoint, the field, the class / attribute and the value: every score
        would be nan."""
        meta = self.dataset_meta
        classes, attributes = meta.get('classes'), meta.get('attribute_names')
        fields = [('head.class_attributes', state.get('head.class_attributes'),
                   (('class', classes), ('attribute', attributes))),
                  ("meta.dataset_meta['class_attributes']", meta.get('class_attributes'),
                   (('class', classes), ('attribute', attributes))),
                  ('neck.word_vectors', state.get('neck.word_vectors'),
                   (('attribute', attributes), 'dimension')),
                  ('head.attribute_embeddings', state.get('head.attribute_embeddings'),
                   (('attribute', attributes), 'dimension'))]
        for field, value, axes in fields:
            if value is not None and np.ndim(value) == 2:
                check_finite(value, f'{self.checkpoint}: {field}', axes=axes)

    def _build_model(self, cfg: Config, state: Dict[str, torch.Tensor], word_vectors,
                     checkpoint: str):
        model_cfg = copy.deepcopy(cfg.get('model'))
        if not model_cfg:
            raise ValueError('the config has no model')
        if cfg.get('data_preprocessor') is not None and 'data_preprocessor' not in model_cfg:
            model_cfg['data_preprocessor'] = copy.deepcopy(cfg.data_preprocessor)
        from_file = set()  # weights filled from outside the checkpoint
        for part, key in _WORD_VECTOR_WEIGHTS:
            module = model_cfg.get(part)
            if not isinstance(module, dict) or 'word_vectors' not in module or \
                    module.get('context_init', 'word_vectors') != 'word_vectors':
                continue
            stored = state.get(key)
            if stored is not None:
                # a placeholder of the right shape; the checkpoint's weights fill it
                module['word_vectors'] = np.zeros(tuple(stored.shape), np.float32)
            elif word_vectors is not None:
                module['word_vectors'] = word_vectors
                from_file.add(key)
            else:
                from_file.add(key)
                path = module.get('word_vectors')
                if isinstance(path, (str, os.PathLike)) and not osp.isfile(path):
                    raise FileNotFoundError(
                        f'{checkpoint} holds no {key}, so the config\'s word-vector file '
                        f'(model.{part}.word_vectors) is needed, but {path!r} does not exist; '
                        'pass word_vectors= (a .npy [num_attributes, dim]) or make it with '
                        'tools/extract_attribute_embeddings.py')
        model = MODELS.build(model_cfg)
        self.kind = self._check_kind(model)
        result = model.load_state_dict(state, strict=False)
        missing = [k for k in result.missing_keys if k not in from_file]
        if missing or result.unexpected_keys:
            raise ValueError(
                f'{checkpoint} does not match the config\'s model: missing '
                f'{missing[:5]}{" ..." if len(missing) > 5 else ""}, '
                f'unexpected {result.unexpected_keys[:5]}'
                f'{" ..." if len(result.unexpected_keys) > 5 else ""}')
        head, meta = model.head, self.dataset_meta
        if not bool(head.seen_mask.any()) and 'class_attributes' in meta and \
                'seen_classes' in meta:
            head.set_class_attributes(meta['class_attributes'], meta['seen_classes'],
                                      meta.get('attribute_group_ids'))
        return model

    def _check_kind(self, model) -> str:
        """:func:`model_kind` of the built model (a subclass may restrict it)."""
        return model_kind(model)

    def _names(self, given, meta_key: str, count: int, prefix: str) -> List[str]:
        names = given if given is not None else self.dataset_meta.get(meta_key)
        if names is None:
            return [f'{prefix}_{i}' for i in range(count)]
        names = [str(n) for n in names]
        if len(names) != count:
            source = 'given' if given is not None else f"checkpoint's dataset_meta['{meta_key}']"
            raise ValueError(f'{len(names)} {prefix} names ({source}) but the model has {count} '
                             f'{prefix}s')
        return names

    def _table_from_model(self, class_names) -> Optional[ClassTable]:
        head = self.model.head
        if not bool(head.seen_mask.any()):
            if class_names is not None:
                raise ValueError('class_names given but the checkpoint has no class table (no '
                                 'class attributes in the head or in meta.dataset_meta); use '
                                 'set_classes(names, attribute_matrix)')
            return None
        names = self._names(class_names, 'classes', int(head.num_classes), 'class')
        check_unique_names(names, 'the class names given' if class_names is not None else
                           f"{self.checkpoint}: meta.dataset_meta['classes']")
        return ClassTable(names, head.class_attributes.detach().float().cpu().clone(),
                          (~head.seen_mask).cpu().numpy(), 'checkpoint')

    def _build_pipelines(self, cfg: Config) -> None:
        """Build the image loader, the config's test steps, the fallback resize and the packer
        (see the module docstring); sets :attr:`input_size` ``(H, W)``."""
        self.input_size, self.patch_size = backbone_geometry(self.model.backbone)
        height, width = self.input_size
        img_size = max(height, width)  # the short edge, before the central (H, W) crop
        crop = height if height == width else (width, height)  # CenterCrop takes (w, h)
        loader = cfg.get('test_dataloader') or {}
        steps = ((loader.get('dataset') or {}).get('pipeline') if loader else None) or \
            cfg.get('test_pipeline')
        if not steps:
            raise ValueError('the config has no test pipeline (test_dataloader.dataset.pipeline '
                             'or test_pipeline)')
        steps = [dict(s) for s in steps if not _dataset_only(_type_name(s))]
        if _type_name(steps[0]) != 'LoadImageFromFile':
            raise ValueError(f'the test pipeline starts with {_type_name(steps[0])!r}; expected '
                             'LoadImageFromFile')
        load, steps = steps[0], steps[1:]
        pack = dict(type='PackInputs')
        if steps and _type_name(steps[-1]).startswith('Pack'):
            pack = steps.pop()
        if 'algorithm_keys' in pack:
            pack['algorithm_keys'] = []  # dataset fields (is_unseen, gt_fg_mask): none here
        names = [_type_name(s) for s in steps]
        self._load = TRANSFORMS.build(load)
        self._steps = [TRANSFORMS.build(s) for s in steps]
        self._pack = TRANSFORMS.build(pack)
        self._fit = None
        if not any(key in n for n in names for key in _SIZING):
            # no sizing in the config (images stored at the model's size): short edge to
            # img_size, then the central square, as the real-dataset test pipelines do. 'area'
            # averages the pixels a shrunk one covers (bilinear would alias on large photos).
            self._fit = {
                mode: [TRANSFORMS.build(dict(type='ResizeEdge', scale=img_size, edge='short',
                                             interpolation=interp)),
                       TRANSFORMS.build(dict(type='CenterCrop', crop_size=crop))]
                for mode, interp in (('shrink', 'area'), ('enlarge', 'bicubic'))}
            names += [f'ResizeEdge(short edge {img_size}) + CenterCrop({crop}), added '
                      'because the config\'s test pipeline has no resize']
        self.pipeline_description = ' -> '.join(names) if names else '(no steps)'

    # ------------------------------------------------------------ class table
    @property
    def classes(self) -> Optional[ClassTable]:
        """The current class table (None when neither checkpoint nor user gave one)."""
        return self._table

    def set_classes(self, names: Sequence[str], attribute_matrix,
                    unseen: Union[bool, Sequence[bool]] = True, extend: bool = False,
                    source: str = 'user') -> None:
        """Score these classes instead of (or, with ``extend``, besides) the current ones.

        Args:
            names: ``C'`` class names.
            attribute_matrix: ``[C', K]`` attribute values per class (any scale; rows are
                L2-normalised as the head does), in the model's attribute order
                (:attr:`attribute_names`).
            unseen: whether the classes are unseen (new); one bool or one per class.
            extend: append to the current table instead of replacing it.
            source: a description of where the table came from (``classes.source``).

        Raises:
            ValueError: wrong attribute count, names/rows mismatch, non-finite (or beyond
                float32) or all-zero rows, a class name twice (also against the current
                classes with ``extend``).
        """
        table = ClassTable.build(names, attribute_matrix, self.num_attributes, unseen, source,
                                 prepare=getattr(self.model.head, 'class_table_rows', None))
        if extend:
            if self._table is None:
                raise ValueError('extend=True but there is no class table to extend')
            table = self._table.extended(table)
        self._table = table

    def load_classes(self, path: str, class_names: Optional[Sequence[str]] = None,
                     unseen: Union[bool, Sequence[bool], None] = None,
                     extend: bool = False) -> None:
        """:meth:`set_classes` from a ``.csv`` / ``.npy`` file (see
        :func:`~svip_mm.apis.load_class_table`); ``unseen`` defaults to the file's ``unseen``
        column, else True."""
        names, matrix, flags = load_class_table(path, self.attribute_names, class_names)
        if matrix.shape[1] != self.num_attributes:
            raise ValueError(f'{path}: {matrix.shape[1]} attribute values per class; the model '
                             f'has {self.num_attributes} attributes')
        if unseen is None:
            unseen = flags if flags is not None else True
        self.set_classes(names, matrix, unseen, extend, source=os.fspath(path))

    def reset_classes(self) -> None:
        """Back to the checkpoint's class table."""
        self._table = self._model_table

    # ------------------------------------------------------------ preprocessing
    def _prepare(self, item: ImageInput, name: str) -> dict:
        """One image -> the packed pipeline output: ``inputs`` uint8 ``[3, H, W]`` with
        ``(H, W)`` = :attr:`input_size`, ``data_samples``. ``name`` names the image in errors.

        Raises:
            FileNotFoundError: a missing file. TypeError: neither a path nor an array.
            ValueError: an unreadable file, a wrong array shape, an image without pixels, a
                failing pipeline step or a result that is not the model's input size.
        """
        if isinstance(item, (str, os.PathLike)):
            path = os.fspath(item)
            if not osp.isfile(path):
                raise FileNotFoundError(f'image not found: {path!r}')
            try:
                results = self._load(dict(img_path=path))
            except Exception as err:  # cv2 / PIL / mmcv raise many types on a bad file
                raise ValueError(f'{name} could not be read as an image ({err}); expected '
                                 f'{_READABLE}') from err
            if results is None:  # LoadImageFromFile(ignore_empty=True) on a bad file
                raise ValueError(f'{name} could not be read as an image; expected {_READABLE}')
        elif isinstance(item, np.ndarray):
            img = item
            if img.ndim == 2:
                img = np.repeat(img[..., None], 3, axis=-1)
            if img.ndim != 3 or img.shape[-1] != 3:
                raise ValueError(f'{name} must be [H, W, 3] (BGR, as mmcv.imread returns) or '
                                 f'[H, W]; got shape {item.shape}')
            results = dict(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2])
        else:
            raise TypeError(f'an image must be a file path or a numpy array, got '
                            f'{type(item).__name__}')
        h, w = results['img'].shape[:2]
        if h == 0 or w == 0:
            raise ValueError(f'{name} is {h}x{w} pixels; expected an image of at least 1x1 '
                             'pixels')
        steps = list(self._steps)
        if self._fit is not None:
            steps += self._fit['shrink' if min(h, w) >= self.input_size[0] else 'enlarge']
        for step in steps:
            try:
                out = step(results)
            except Exception as err:  # a config step: any error means this image is unusable
                raise ValueError(
                    f'{name} ({h}x{w} pixels): the test pipeline step {type(step).__name__} '
                    f'failed ({type(err).__name__}: {err}); expected the pipeline '
                    f'{self.pipeline_description} to bring it to the model\'s input size '
                    f'{self.input_size[0]}x{self.input_size[1]}') from err
            if out is None:
                raise ValueError(f'{name} ({h}x{w} pixels): the test pipeline step '
                                 f'{type(step).__name__} dropped the image')
            results = out
        size = tuple(results['img'].shape[:2])
        if size != self.input_size:
            raise ValueError(
                f'{name} ({h}x{w} pixels) is {size[0]}x{size[1]} after the config\'s test '
                f'pipeline ({self.pipeline_description}); the model takes '
                f'{self.input_size[0]}x{self.input_size[1]} (backbone img_size): expected a '
                'test pipeline that brings every image to that size, e.g. ResizeEdge + '
                'CenterCrop, or none (then the inferencer resizes)')
        packed = self._pack(results)
        packed['ori_shape'] = (int(h), int(w))  # whatever meta_keys the config's packer keeps
        return packed

    def preprocess(self, inputs: Sequence[ImageInput], start: int = 0) -> Dict[str, object]:
        """Images -> ``dict(inputs=[B, 3, H, W] float on the device, raw=[B uint8 [3, H, W]],
        img_paths=[B path or None], ori_shapes=[B (h, w)])`` through the test pipeline (to
        ``(H, W)`` = :attr:`input_size`) and the data preprocessor; ``start`` is the index of
        ``inputs[0]`` among all the images, to name arrays in errors."""
        names = [repr(os.fspath(item)) if isinstance(item, (str, os.PathLike)) else
                 f'image array #{start + i}' for i, item in enumerate(inputs)]
        packed = [self._prepare(item, name) for item, name in zip(inputs, names)]
        raw = [p['inputs'] for p in packed]
        batch = self.model.data_preprocessor(dict(inputs=list(raw)), False)['inputs']
        paths = [os.fspath(i) if isinstance(i, (str, os.PathLike)) else None for i in inputs]
        shapes = [p['ori_shape'] for p in packed]
        return dict(inputs=batch, raw=raw, img_paths=paths, ori_shapes=shapes)

    # ------------------------------------------------------------ inference
    @property
    def has_selection(self) -> bool:
        """Whether the model selects patches (SVIP): results carry ``keep_mask``,
        ``selector_prob`` and ``unit_grid``."""
        return self.kind == 'svip'

    def _require_table(self) -> ClassTable:
        if self._table is None:
            raise RuntimeError('no class table: the checkpoint has none (neither the head\'s '
                               'buffers nor meta.dataset_meta hold class attributes); call '
                               'set_classes(names, attribute_matrix) or load_classes(path)')
        return self._table

    def class_scores(self, attributes: torch.Tensor) -> torch.Tensor:
        """``[B, K]`` attribute predictions -> ``[B, C]`` softmax scores over the current
        class table: the head's ``score_classes(attributes, rows)`` logits, plus the head's
        ``prediction_bias()`` when the table is the checkpoint's own (so that they are the
        model's ``pred_score``; a calibration such as TransZero's is defined for the head's
        own classes only)."""
        table = self._require_table()
        head = self.model.head
        rows = table.rows.to(attributes.device, torch.float32)
        logits = score_classes(head, attributes.float(), rows).float()
        if table is self._model_table and hasattr(head, 'prediction_bias'):
            bias = head.prediction_bias()
            if bias is not None:
                logits = logits + bias.to(logits.device, logits.dtype)
        return F.softmax(logits, dim=1)

    def _forward(self, inputs: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, dict]:
        """``[B, 3, H, W]`` preprocessed images -> (``[B, K]`` attribute predictions, ``[B, C]``
        class scores over the current table, SVIP's extras: ``keep_mask`` [B, U] and
        ``selector_prob`` [B, U], else empty), under no_grad."""
        with torch.no_grad():
            if self.kind == 'svip':
                attributes, keep, details = self.model.infer(inputs, with_details=True)
                extras = dict(keep_mask=keep, selector_prob=details['selector_prob'])
            else:
                head, extras = self.model.head, {}
                feats = self.model.extract_feat(inputs)
                if bool(head.seen_mask.any()):
                    # the head's own prediction: pred_attributes exactly as tools/test.py
                    attributes = torch.stack([s.pred_attributes for s in head.predict(feats)])
                else:  # no class table to predict with: the head's forward output
                    attributes = head(feats)
            return attributes, self.class_scores(attributes), extras

    def __call__(self, inputs: Union[ImageInput, Sequence[ImageInput]],
                 topk: Optional[int] = None, top_attributes: Optional[int] = None,
                 batch_size: int = 8) -> List[dict]:
        """Predict for one image or a list of images (paths, or ``[H, W, 3]`` BGR arrays) of
        any size; each is brought to the model's input size :attr:`input_size` first (see the
        module docstring).

        Args:
            topk: classes to list (default 5); all of them when the table has fewer.
            top_attributes: attributes to list (default 5); all K when there are fewer.
            batch_size: images per forward pass.

        Returns:
            one dict per image:

            - ``img_path`` (None for arrays); ``ori_shape``: the image's ``(h, w)``;
              ``input_shape``: the model input's ``(H, W)`` (:attr:`input_size`);
            - ``pred_label``, ``pred_class``, ``pred_score``, ``pred_unseen``: the top class;
            - ``topk``: ``topk`` dicts ``rank, label, class_name, score, unseen``, best first;
            - ``attributes``: ``top_attributes`` dicts ``index, name, score``, best first;
            - ``class_scores``: ``[C]`` over the current table; ``attribute_scores``: ``[K]``,
              the model's ``pred_attributes``;
            - SVIP only (:attr:`has_selection`): ``keep_mask``: bool ``[U]`` units kept by the
              selector (raster order over ``unit_grid``), the others received the context
              token; ``unit_grid``: the model's unit grid ``(rows, cols)`` = input size /
              (patch size x unit size), e.g. ``(8, 8)`` for the default config;
              ``selector_prob``: ``[U]``.

        Raises:
            FileNotFoundError: a missing image; ValueError: ``topk`` / ``top_attributes``
            below 1, an image that cannot be read or brought to the input size (the message
            names it), non-finite class or attribute scores (a damaged checkpoint or class
            table: no nan ranking is returned); RuntimeError: no class table.
        """
        if isinstance(inputs, (str, os.PathLike, np.ndarray)):
            inputs = [inputs]
        inputs = list(inputs)
        num_classes = len(self._table) if self._table is not None else 0
        topk = 5 if topk is None else topk
        top_attributes = 5 if top_attributes is None else top_attributes
        if int(topk) < 1 or int(top_attributes) < 1:
            raise ValueError(f'topk={topk} and top_attributes={top_attributes}: expected counts '
                             '>= 1')
        # more than there are: all of them, as the tools' --help promises
        topk = min(int(topk), num_classes) if self._table is not None else int(topk)
        top_attributes = min(int(top_attributes), self.num_attributes)
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        results = []
        for start in range(0, len(inputs), batch_size):
            chunk = inputs[start:start + batch_size]
            batch = self.preprocess(chunk, start)
            self._require_table()
            attributes, scores, extras = self._forward(batch['inputs'])
            self._check_scores(scores, attributes, batch['img_paths'], start)
            unit_grid = None
            if extras:
                grid = (batch['inputs'].shape[-2] // self.patch_size[0],
                        batch['inputs'].shape[-1] // self.patch_size[1])
                unit_grid = check_unit_grid(grid, self.model.head.unit_size)
            for i, path in enumerate(batch['img_paths']):
                result = self._result(path, scores[i], attributes[i], int(topk),
                                      int(top_attributes))
                if extras:
                    result.update(
                        keep_mask=extras['keep_mask'][i].cpu().numpy().astype(bool),
                        unit_grid=tuple(unit_grid),
                        selector_prob=extras['selector_prob'][i].float().cpu().numpy())
                result.update(ori_shape=batch['ori_shapes'][i],
                              input_shape=tuple(batch['inputs'].shape[-2:]))
                results.append(result)
        return results

    def _check_scores(self, scores: torch.Tensor, attributes: torch.Tensor,
                      paths: Sequence[Optional[str]], start: int = 0) -> None:
        """Refuse ``[B, C]`` class / ``[B, K]`` attribute scores that are not finite: a nan
        ranking is no result. The inputs were finite images, so the numbers come from the
        checkpoint (weights or buffers) or the class table."""
        bad = ~(torch.isfinite(scores).all(1) & torch.isfinite(attributes).all(1))
        if not bool(bad.any()):
            return
        rows = bad.nonzero().flatten().tolist()
        names = [repr(paths[i]) if paths[i] is not None else f'image array #{start + i}'
                 for i in rows[:3]]
        raise ValueError(
            f'{len(rows)} of {len(paths)} images got non-finite (NaN or inf) class or '
            f'attribute scores, e.g. {", ".join(names)}; the checkpoint {self.checkpoint} '
            f'(its weights or buffers) or the class table (from {self._table.source}) is '
            'damaged: expected finite numbers (no scores are reported)')

    def _result(self, path, scores, attributes, topk, top_attributes) -> dict:
        table = self._table
        scores = scores.float().cpu().numpy()
        attributes = attributes.float().cpu().numpy()
        order = np.argsort(-scores, kind='stable')[:topk]
        top = [dict(rank=r + 1, label=int(c), class_name=table.names[c], score=float(scores[c]),
                    unseen=bool(table.unseen[c])) for r, c in enumerate(order)]
        att_order = np.argsort(-attributes, kind='stable')[:top_attributes]
        return dict(
            img_path=path, pred_label=top[0]['label'], pred_class=top[0]['class_name'],
            pred_score=top[0]['score'], pred_unseen=top[0]['unseen'], topk=top,
            attributes=[dict(index=int(a), name=self.attribute_names[a],
                             score=float(attributes[a])) for a in att_order],
            class_scores=scores, attribute_scores=attributes)

    # ------------------------------------------------------------ figures
    def analyse(self, image: ImageInput):
        """:func:`~svip_mm.visualization.analyse_image` of one image (brought to
        :attr:`input_size`), with the class scores, names and unseen flags of the current
        class table."""
        return self._analyse(image)[0]

    def _analyse(self, image: ImageInput):
        """:meth:`analyse` and the image's original ``(h, w)``."""
        from ..visualization import analyse_image, input_to_display
        batch = self.preprocess([image])
        pre = self.model.data_preprocessor
        bgr = bool(getattr(pre, 'to_rgb', False) or getattr(pre, '_channel_conversion', False))
        analysis = analyse_image(self.model, batch['inputs'][0],
                                 input_to_display(batch['raw'][0], bgr),
                                 attribute_names=self.attribute_names)
        if self._table is not None:
            attributes = torch.as_tensor(analysis.attribute_scores)[None]
            scores = self.class_scores(attributes)
            self._check_scores(scores, attributes, batch['img_paths'])
            analysis.class_scores = scores[0].numpy()
            analysis.class_names = list(self._table.names)
            analysis.unseen = self._table.unseen.copy()
        return analysis, batch['ori_shapes'][0]

    def _mask_to_input(self, mask, ori_shape, name: str) -> np.ndarray:
        """A foreground mask of the original image -> uint8 ``[H, W]`` (0..255) aligned with
        the model input: resized to the image's ``(h, w)`` if needed, then through the same
        resize / crop steps as the image (as a grey 3-channel image)."""
        m = np.asarray(mask)
        if m.ndim == 3:  # a mask image read with its channels
            m = m[..., 0]
        if m.ndim != 2 or m.size == 0:
            raise ValueError(f'the mask {name} has shape {np.shape(mask)}; expected an [h, w] '
                             'foreground mask')
        m = m.astype(np.float32)
        if m.max() <= 1:  # bool or 0..1
            m = m * 255
        m = np.clip(m, 0, 255).astype(np.uint8)
        if m.shape != tuple(ori_shape):  # a mask at another resolution covers the whole image
            m = mmcv.imresize(m, (ori_shape[1], ori_shape[0]), interpolation='nearest')
        packed = self._prepare(np.repeat(m[..., None], 3, axis=-1), f'the mask {name}')
        return packed['inputs'][0].numpy()

    def visualize(self, image: ImageInput, gt_mask=None, top_attributes: int = 4,
                  title: Optional[str] = None, return_analysis: bool = False):
        """The one-image summary figure (:func:`~svip_mm.visualization.plot_image_summary`)
        of the image brought to :attr:`input_size`, on the model's grid, with the panels the
        model can give (the analysis's ``unavailable`` says why the others are missing; the
        figure's foot too).

        Args:
            gt_mask: optional foreground mask of the image: an ``[h, w]`` array (bool, 0..1 or
                0..255) or a mask image path; it is resized and cropped as the image is, and
                drawn beside the selection (SVIP).
            return_analysis: return ``(figure, analysis)`` instead of the figure.
        """
        from ..visualization import plot_image_summary, prediction_title
        mask_name = 'array'
        if isinstance(gt_mask, (str, os.PathLike)):
            mask_name = repr(os.fspath(gt_mask))
            if not osp.isfile(os.fspath(gt_mask)):
                raise FileNotFoundError(f'mask not found: {mask_name}')
            try:
                read = mmcv.imread(os.fspath(gt_mask), flag='unchanged')
            except Exception as err:  # cv2 / PIL raise many types on a bad file
                raise ValueError(f'the mask {mask_name} could not be read as an image ({err}); '
                                 f'expected {_READABLE}') from err
            if read is None:
                raise ValueError(f'the mask {mask_name} could not be read as an image; '
                                 f'expected {_READABLE}')
            gt_mask = read
        analysis, ori_shape = self._analyse(image)
        if gt_mask is not None:
            gt_mask = self._mask_to_input(gt_mask, ori_shape, mask_name)
        name = osp.basename(os.fspath(image)) if isinstance(image, (str, os.PathLike)) else None
        fig = plot_image_summary(analysis, gt_mask, top_attributes,
                                 title if title is not None else
                                 prediction_title(analysis, name=name))
        return (fig, analysis) if return_analysis else fig


class SVIPInferencer(ZSLInferencer):
    """:class:`ZSLInferencer` for an :class:`SVIPClassifier` only (the SVIP tutorials and
    tests use it): every result has the keep mask, the unit grid and the selector's
    probabilities. The arguments are :class:`ZSLInferencer`'s.

    Raises:
        TypeError: the config builds another model (use :class:`ZSLInferencer` for it).
    """

    def _check_kind(self, model) -> str:
        if model_kind(model) != 'svip':
            raise TypeError(f'SVIPInferencer needs an SVIPClassifier; the config builds '
                            f'{_model_name(model)}: use ZSLInferencer for any ZSL model')
        return 'svip'
