"""What :class:`SVIPClassifier` requires of its backbone, neck and head, and the check it runs
when it is built (docs/interfaces.md).

Each interface is a ``typing.Protocol``: its annotated names are attributes, its methods
are methods the component must accept the same call to (the positional parameters by
position, the keyword-only ones by name; the classifier passes them so). :func:`check_interface`
compares a built component with one and names what is missing; SVIPClassifier calls it for its three
parts, so a part that lacks a member fails when the model is built, not in the middle of
a training step.
"""
import inspect
from typing import Dict, List, Optional, Protocol, Tuple

import torch
from mmpretrain.structures import DataSample

from ..heads.zsl_head import ZSLHead

DOCS = 'docs/interfaces.md'
Grid = Tuple[int, int]


class SVIPBackbone(Protocol):
    """The backbone of :class:`SVIPClassifier` (:class:`SVIPVisionTransformer`), with patch
    embedding and encoding as separate steps (docs/interfaces.md, "SVIP backbone").

    - ``embed_dims``: C, the token width (the neck's and the head's ``in_channels``);
    - ``num_heads``: attention heads (the attention aggregation of the source pass);
    - ``num_prefix_tokens``: P, the tokens before the patch tokens in :meth:`encode`'s
      output (1: the CLS token, whose attention labels the selector);
    - ``patch_size``: pixels per patch side; the patch grid of an H x W image is
      (H // patch_size, W // patch_size) (the inferencer and the figures map units to
      pixels with it);
    - ``embed(images [B, 3, H, W]) -> (patches [B, h*w, C], grid (h, w))``: patch
      embeddings, raster order, no CLS token or position embedding;
    - ``encode(patches [B, h*w, C], grid, return_attn=False) -> (tokens [B, P + h*w, C],
      maps)``: the transformer on given (possibly changed) patch embeddings; ``maps`` is
      None, or with ``return_attn`` one head-averaged attention map [B, P + h*w, P + h*w] per
      layer (CLS first).
    """
    embed_dims: int
    num_heads: int
    num_prefix_tokens: int
    patch_size: int

    def embed(self, images: torch.Tensor) -> Tuple[torch.Tensor, Grid]:
        ...

    def encode(self, patches: torch.Tensor, grid: Grid, *, return_attn: bool = False
               ) -> Tuple[torch.Tensor, Optional[List[torch.Tensor]]]:
        ...


class SVIPSelectorNeck(Protocol):
    """The selector neck of :class:`SVIPClassifier` (:class:`SemanticPatchSelector`): it
    scores units at the input, turns attention into keep sets and contextualises the units
    that are not kept (docs/interfaces.md, "SVIP selector neck").

    U units of u x u patches on the (h/u) x (w/u) unit grid, raster order.

    - ``in_channels`` (= the backbone's ``embed_dims``), ``num_attributes`` (= the head's),
      ``unit_size`` u (= the head's), ``keep_k``: units kept per image;
    - ``selector_logits(patches [B, h*w, C], grid) -> [B, U]`` "semantic-unrelated" logits;
    - ``attention_unit_scores(maps, grid, num_heads) -> [B, U]``: per-layer attention maps
      (the backbone's ``encode(return_attn=True)``) to each unit's CLS relevance;
    - ``keep_from_attention(unit_scores [B, U]) -> [B, U] bool`` (the k most attended);
    - ``keep_from_selector(logits [B, U]) -> [B, U] bool`` (the k least unrelated);
    - ``contextualise(patches [B, h*w, C], keep [B, U] bool, grid) -> [B, h*w, C]``: the
      context token applied to the units not kept;
    - ``loss(logits [B, U], keep [B, U]) -> dict`` with ``loss_selector``.
    """
    in_channels: int
    num_attributes: int
    unit_size: int
    keep_k: int

    def selector_logits(self, patches: torch.Tensor, grid: Grid) -> torch.Tensor:
        ...

    def attention_unit_scores(self, maps: List[torch.Tensor], grid: Grid,
                              num_heads: int) -> torch.Tensor:
        ...

    def keep_from_attention(self, unit_scores: torch.Tensor) -> torch.Tensor:
        ...

    def keep_from_selector(self, logits: torch.Tensor) -> torch.Tensor:
        ...

    def contextualise(self, patches: torch.Tensor, keep: torch.Tensor,
                      grid: Grid) -> torch.Tensor:
        ...

    def loss(self, logits: torch.Tensor, keep: torch.Tensor) -> Dict[str, torch.Tensor]:
        ...


class SVIPHead(ZSLHead, Protocol):
    """The head of :class:`SVIPClassifier` (:class:`SemanticAttributeHead`): a ZSL head
    (:class:`~svip_mm.models.heads.ZSLHead`) that scores units, so the classifier can pool
    over keep sets of its own passes (docs/interfaces.md, "SVIP head").

    - ``in_channels`` (= the backbone's ``embed_dims``), ``unit_size`` u (= the neck's);
    - ``pooling``: ``'mean'`` or ``'max'`` over units (the target pass re-selects around a
      prototype pooled the same way); ``eval_units``: ``'all'`` or ``'kept'`` units at
      inference;
    - ``attribute_scores(units [B, U, u*u*C], keep [B, U] bool or None) -> [B, K]``;
    - ``attribute_losses(attributes [B, K], data_samples, suffix, decorrelate) -> dict``:
      the seen-class loss terms, their keys ending in ``suffix``;
    - ``similarity(attributes [B, K], classes 'seen' | 'all') -> [B, C']`` unscaled (the
      consistency loss compares the two passes with it);
    - ``predictions(attributes [B, K], data_samples, keep [B, U]) -> samples`` with the
      ZSL head's prediction fields and ``keep_mask`` [U].

    Optional: ``num_prefix_tokens``; when the head has it and it is None, the classifier
    sets it from the backbone.
    """
    in_channels: int
    unit_size: int
    pooling: str
    eval_units: str

    def attribute_scores(self, units: torch.Tensor,
                         keep: Optional[torch.Tensor] = None) -> torch.Tensor:
        ...

    def attribute_losses(self, attributes: torch.Tensor, data_samples: List[DataSample],
                         suffix: str = '', *, decorrelate: bool = True
                         ) -> Dict[str, torch.Tensor]:
        ...

    def similarity(self, attributes: torch.Tensor, classes: str = 'seen') -> torch.Tensor:
        ...

    def predictions(self, attributes: torch.Tensor,
                    data_samples: Optional[List[Optional[DataSample]]] = None,
                    keep: Optional[torch.Tensor] = None) -> List[DataSample]:
        ...


_NOT_MEMBERS = {'__init__', '__subclasshook__', '__class_getitem__', '__init_subclass__'}


def interface_members(interface: type) -> Dict[str, Optional[inspect.Signature]]:
    """The members a protocol declares, its bases' included: ``{name: None}`` for an
    attribute, ``{name: signature}`` for a method (``self`` left out)."""
    members: Dict[str, Optional[inspect.Signature]] = {}
    for cls in reversed(interface.__mro__):
        if cls in (object, Protocol) or not getattr(cls, '_is_protocol', False):
            continue
        for name in cls.__dict__.get('__annotations__', {}):
            members[name] = None
        for name, value in cls.__dict__.items():
            if inspect.isfunction(value) and not name.startswith('_') and \
                    name not in _NOT_MEMBERS:
                params = list(inspect.signature(value).parameters.values())[1:]
                members[name] = _plain(inspect.Signature(params))
    return members


def _plain(signature: inspect.Signature) -> inspect.Signature:
    """The signature without annotations (shorter messages)."""
    return inspect.Signature([p.replace(annotation=p.empty)
                              for p in signature.parameters.values()])


def _accepts(method, expected: inspect.Signature) -> Optional[str]:
    """None if ``method`` (bound) accepts a call with every parameter of ``expected`` (the
    positional ones by position, the keyword-only ones by name) and needs no other; else
    its own signature, for the message."""
    try:
        signature = inspect.signature(method)
    except (TypeError, ValueError):  # a builtin without a signature: trust it
        return None
    args = [p.name for p in expected.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    kwargs = {p.name: None for p in expected.parameters.values() if p.kind is p.KEYWORD_ONLY}
    try:
        signature.bind(*args, **kwargs)
    except TypeError:
        return str(_plain(signature))
    return None


def missing_members(component, interface: type) -> List[str]:
    """What ``component`` lacks of ``interface``: ``'name'`` for a missing attribute or
    method, ``'name (not callable)'``, or ``'name(expected parameters) (has (its own))'`` for
    a method that does not accept the interface's call."""
    missing = []
    for name, expected in interface_members(interface).items():
        if not hasattr(component, name):
            missing.append(name)
            continue
        if expected is None:
            continue
        method = getattr(component, name)
        if not callable(method):
            missing.append(f'{name} (not callable)')
            continue
        own = _accepts(method, expected)
        if own is not None:
            missing.append(f'{name}{expected} (has {name}{own})')
    return missing


def check_interface(component, interface: type, role: str, owner: str) -> None:
    """Raise unless ``component`` offers every member of ``interface``.

    Args:
        component: the built part.
        interface: a protocol of this module or :class:`~svip_mm.models.heads.ZSLHead`.
        role: what the part is to ``owner`` (``'backbone'``, ``'neck'``, ``'head'``).
        owner: the class that needs it (named in the message).

    Raises:
        TypeError: naming ``owner``, the role, the component's class, the missing members
            and the interface (see docs/interfaces.md).
    """
    missing = missing_members(component, interface)
    if missing:
        raise TypeError(f'{owner}: the {role} {type(component).__name__} does not offer the '
                        f'{interface.__name__} interface ({DOCS}): missing '
                        f'{", ".join(missing)}')
