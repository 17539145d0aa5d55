"""TransZero (Chen et al., AAAI 2022) as an mmpretrain head over ViT patch tokens
(docs/transzero.md)."""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..necks.semantic_context_token import read_word_vectors
from ..utils.arrays import ArrayLike, read_array
from ..utils.choices import check_choice
from .semantic_attribute_head import tokens_to_patch_grid
from .zsl_head import ZSLHeadMixin, tokens_to_maps, write_predictions

ENCODER_ATTENTIONS = ('geometry', 'plain')
CE_CLASSES = ('all', 'seen')


def grid_geometry_embedding(grid: Tuple[int, int], num_frequencies: int = 8,
                            wave_length: float = 1000.0, position_scale: float = 100.0,
                            device: Optional[torch.device] = None) -> torch.Tensor:
    """Sinusoidal embedding of the relative geometry of every pair of cells of a grid.

    Each cell (r, c) of an h x w grid (raster order, as ViT patch tokens) is a box with
    centre ((r + 1/2) / h, (c + 1/2) / w) and the size the released code gives it,
    (1/h + 1, 1/w + 1). For cells i, j the relative geometry is the 4-vector::

        g_ij = (log max(|dr_ij| / (1/h + 1), 1e-3), log max(|dc_ij| / (1/w + 1), 1e-3), 0, 0)

    (the last two are the log size ratios, zero on a grid of equal cells), and its embedding
    is [sin(100 g_ij f), cos(100 g_ij f)] with the frequencies f_m = 1000^(-m / M),
    m = 0..M-1, applied to each of the four entries: 8 M values.

    Returns:
        [h*w, h*w, 8 * num_frequencies] float32 (64 values for the published M = 8).
    """
    h, w = int(grid[0]), int(grid[1])
    rows = torch.arange(h, device=device, dtype=torch.float32).repeat_interleave(w)
    cols = torch.arange(w, device=device, dtype=torch.float32).repeat(h)
    centre_r, centre_c = (rows + 0.5) / h, (cols + 0.5) / w
    size_r, size_c = 1.0 / h + 1.0, 1.0 / w + 1.0
    d_r = ((centre_r[:, None] - centre_r[None, :]).abs() / size_r).clamp(min=1e-3).log()
    d_c = ((centre_c[:, None] - centre_c[None, :]).abs() / size_c).clamp(min=1e-3).log()
    zeros = torch.zeros_like(d_r)
    geometry = torch.stack([d_r, d_c, zeros, zeros], dim=-1)  # [N, N, 4]
    exponents = torch.arange(num_frequencies, device=device, dtype=torch.float32)
    frequencies = wave_length ** (-exponents / num_frequencies)  # [M]
    angles = (position_scale * geometry[..., None] * frequencies).flatten(2)  # [N, N, 4M]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class GeometryEncoderLayer(nn.Module):
    """One single-head encoder layer over region (patch) features, as in TransZero's encoder.

    With x [B, N, d] and an optional geometry penalty G [N, N] (>= 0)::

        P = dropout_a(softmax(q(x) k(x)^T / sqrt(d) - G))
        y = LN_1(x + dropout(o(P v(x))))
        y = LN_2(x + dropout(y))                   (the released layer adds x a second time)
        out = LN_3(y + dropout(W_2 dropout(relu(W_1 y))))

    q, k, v, o: d x d linear maps, Xavier-uniform weights and zero biases.
    """

    def __init__(self, embed_dims: int, feedforward_channels: int, dropout: float,
                 attn_drop: float):
        super().__init__()
        self.embed_dims = embed_dims
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (
            nn.Linear(embed_dims, embed_dims) for _ in range(4))
        for layer in (self.q_proj, self.k_proj, self.v_proj, self.out_proj):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.drop_attn = nn.Dropout(dropout)
        self.norm_attn = nn.LayerNorm(embed_dims)
        self.drop_residual = nn.Dropout(dropout)
        self.norm_residual = nn.LayerNorm(embed_dims)
        self.fc1 = nn.Linear(embed_dims, feedforward_channels)
        self.fc2 = nn.Linear(feedforward_channels, embed_dims)
        self.drop_ffn_inner = nn.Dropout(dropout)
        self.drop_ffn = nn.Dropout(dropout)
        self.norm_ffn = nn.LayerNorm(embed_dims)

    def forward(self, x: torch.Tensor, penalty: Optional[torch.Tensor] = None) -> torch.Tensor:
        """[B, N, d] (+ [N, N] penalty) -> [B, N, d]."""
        logits = self.q_proj(x) @ self.k_proj(x).transpose(1, 2) / math.sqrt(self.embed_dims)
        if penalty is not None:
            logits = logits - penalty.to(logits.dtype)
        probs = self.attn_drop(logits.softmax(dim=-1))
        attended = self.out_proj(probs @ self.v_proj(x))
        y = self.norm_attn(x + self.drop_attn(attended))
        y = self.norm_residual(x + self.drop_residual(y))
        ffn = self.fc2(self.drop_ffn_inner(F.relu(self.fc1(y))))
        return self.norm_ffn(y + self.drop_ffn(ffn))


class AttributeDecoderLayer(nn.Module):
    """A post-norm transformer decoder layer with attribute queries (torch's
    ``TransformerDecoderLayer`` arrangement, ReLU), whose self-attention can be switched off
    as in the released SUN setting::

        t = LN_1(t + dropout(SelfAttn(t)))         (only with self_attention)
        t = LN_2(t + dropout(CrossAttn(t, m, m)))
        t = LN_3(t + dropout(W_2 dropout(relu(W_1 t))))
    """

    def __init__(self, embed_dims: int, num_heads: int, feedforward_channels: int,
                 dropout: float, self_attention: bool):
        super().__init__()
        self.self_attention = self_attention
        if self_attention:
            self.self_attn = nn.MultiheadAttention(embed_dims, num_heads, dropout=dropout,
                                                   batch_first=True)
            self.drop_self = nn.Dropout(dropout)
            self.norm_self = nn.LayerNorm(embed_dims)
        self.cross_attn = nn.MultiheadAttention(embed_dims, num_heads, dropout=dropout,
                                                batch_first=True)
        self.drop_cross = nn.Dropout(dropout)
        self.norm_cross = nn.LayerNorm(embed_dims)
        self.fc1 = nn.Linear(embed_dims, feedforward_channels)
        self.fc2 = nn.Linear(feedforward_channels, embed_dims)
        self.drop_ffn_inner = nn.Dropout(dropout)
        self.drop_ffn = nn.Dropout(dropout)
        self.norm_ffn = nn.LayerNorm(embed_dims)

    def forward(self, queries: torch.Tensor, memory: torch.Tensor, need_weights: bool = False
                ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """[B, K, d] queries, [B, N, d] memory -> ([B, K, d], [B, K, N] head-averaged
        cross-attention probabilities or None)."""
        t = queries
        if self.self_attention:
            out = self.self_attn(t, t, t, need_weights=False)[0]
            t = self.norm_self(t + self.drop_self(out))
        out, weights = self.cross_attn(t, memory, memory, need_weights=need_weights)
        t = self.norm_cross(t + self.drop_cross(out))
        ffn = self.fc2(self.drop_ffn_inner(F.relu(self.fc1(t))))
        return self.norm_ffn(t + self.drop_ffn(ffn)), weights


@MODELS.register_module()
class TransZeroHead(ZSLHeadMixin, ClsHead):
    """TransZero's attribute-guided transformer over ViT patch tokens.

    Shapes (B images, N = h*w patch tokens of width Dv, K attributes, word vectors of width
    Dw, common width d, C classes):

    1. patch tokens X [B, N, Dv] (CLS token dropped), each L2-normalised over Dv;
    2. attribute embeddings V [K, Dw], a learnable parameter initialised from the attribute
       names' word vectors (rows L2-normalised at initialisation); V' = V / ||V|| per row
       with ``normalize_word_vectors`` (else V' = V);
    3. encoder: H = Enc(X W_v) [B, N, d] (``num_encoder_layers`` :class:`GeometryEncoderLayer`,
       one head, with the grid geometry penalty or plain attention);
    4. decoder: T = Dec(V' W_a, H) [B, K, d] (``num_decoder_layers``
       :class:`AttributeDecoderLayer`: the K attribute queries attend to the N patches);
    5. semantic embedding e_bk = V'_k W_1 T_bk [B, K] (W_1 [Dw, d], standard normal init);
    6. class scores s = e Â^T [B, C] against the class attribute vectors Â (rows
       L2-normalised); the calibration bias adds +beta to every unseen and -beta to every
       seen class (beta = ``calibration_bias``).

    Losses (training, on the seen classes' images):

    - ``loss_ce``: cross-entropy of s WITHOUT the bias, over all classes
      (``ce_classes='all'``, as released) or the seen classes only (``'seen'``);
    - ``loss_self_calibration``: :class:`SelfCalibrationLoss` of s WITH the bias:
      -lambda log of the batch-mean probability mass on the unseen classes.
      TRANSDUCTIVE USE OF UNSEEN CLASS ATTRIBUTES: it needs the unseen classes' attribute
      vectors in training. On by default, as published; ``self_calibration=None`` switches it
      off. ``ce_classes='all'`` also reads them (the unseen classes are negatives of the
      softmax): a strictly inductive run sets ``self_calibration=None`` and
      ``ce_classes='seen'``;
    - ``loss_attribute_regression``: :class:`AttributeRegressionLoss`, the mean squared
      error between e and Â[y].

    Prediction: ``pred_score`` = softmax over ALL C classes of s, with the bias when
    ``bias_at_test`` (the released evaluation keeps it), ``pred_label``, and
    ``pred_attributes`` = e [K]. :meth:`attribute_maps` gives the decoder's cross-attention
    as [B, K, h, w] maps (one per attribute over the patch grid).

    The ZSL head interface (docs/interfaces.md) is :class:`ZSLHeadMixin`'s. Its
    :meth:`score_classes` is s = e A^T WITHOUT the bias; :meth:`prediction_bias` is the bias
    when ``bias_at_test`` (else None), so ``pred_score = softmax(score_classes(e, Â) +
    prediction_bias())``. On another class table the bias needs each class's seen status;
    on a table of unseen classes only (or seen only) it adds the same constant to every
    class and changes neither the softmax nor the argmax.

    Departures from the published method (docs/transzero.md lists them with reasons):

    - input: ViT patch tokens (mmpretrain ``VisionTransformer`` or ``SVIPVisionTransformer``,
      CLS token dropped, width Dv = the ViT width) instead of frozen ResNet-101 layer-4
      regions (2048-d, 14 x 14 at 448 px); ViT-B/16 at 224 px gives the same 14 x 14 grid;
    - the backbone can be trained (the synthetic configs fine-tune it after one epoch of the
      head alone); the released code trains on features extracted once, frozen;
    - encoder attention: ``'geometry'`` computes the released geometry penalty from the
      patch grid of the input (any h x w; the released code fixes 14 x 14), ``'plain'`` drops
      it;
    - the class attribute rows are normalised with the class table's rule, A / (||A|| + 1e-5),
      instead of torch's ``F.normalize`` (max(||A||, 1e-12)): the same for xlsa17's unit rows;
    - the self-calibration log-mass is computed in log space (same value, no log(0));
    - the released model's unused parameters (a second visual projection, the decoder's
      self-attention when it is off) are not created.

    Args:
        num_attributes: K.
        in_channels: Dv, the width of the patch tokens (the ViT's embed_dims).
        num_classes: C, all classes, seen and unseen.
        word_vectors: [K, Dw] word vectors of the attribute names, an array or a ``.npy``
            path (read with :func:`read_word_vectors`). Required.
        embed_dims: d, the common width (published 300; 128 for SUN).
        feedforward_channels: FFN width of encoder and decoder layers (published 512; 2048
            for SUN).
        dropout: dropout of encoder and decoder (published CUB 0.4, AwA2 0.5, SUN 0.3).
        encoder_attn_drop: dropout on the encoder's attention probabilities (0.1 released).
        num_encoder_layers: encoder layers (1).
        num_decoder_layers: decoder layers (1).
        decoder_heads: heads of the decoder's attention (1).
        decoder_self_attention: self-attention among the attribute queries (published True;
            False for SUN).
        encoder_attention: ``'geometry'`` (published) or ``'plain'``.
        geometry_frequencies: M of :func:`grid_geometry_embedding` (8: a 64-d embedding).
        normalize_word_vectors: V' = V / ||V|| in every forward (published False on CUB and
            SUN, True on AwA2).
        calibration_bias: beta (1).
        bias_at_test: add the bias to the test scores too (True, as released).
        ce_classes: ``'all'`` (released) or ``'seen'`` classes in the cross-entropy.
        clip_negative_attributes: set negative class attribute values to 0 before the rows
            are normalised (the released AwA2 script does; False elsewhere).
        loss: the classification loss (mmpretrain ``CrossEntropyLoss``).
        self_calibration: config of :class:`SelfCalibrationLoss` (its ``loss_weight`` is
            lambda), or None to switch the term off.
        attribute_regression: config of :class:`AttributeRegressionLoss` (weight 0 keeps
            the term at zero).
        class_attributes: optional [C, K] class attribute matrix (usually set by
            ``ZSLClassTableHook``).
        seen_classes: global ids of the seen classes (with ``class_attributes``).
        attribute_group_ids: optional [K] group index per attribute; TransZero's losses do
            not use groups, the class table keeps them as every ZSL head's does (a config
            written by ``tools/calibrate.py prepare`` passes them to every head).
        num_prefix_tokens: leading non-patch tokens of ``out_type='raw'`` backbone output
            (1 for a CLS token); None guesses (see :func:`tokens_to_patch_grid`).
    """

    def __init__(self,
                 num_attributes: int,
                 in_channels: int,
                 num_classes: int,
                 word_vectors: Optional[ArrayLike] = None,
                 embed_dims: int = 300,
                 feedforward_channels: int = 512,
                 dropout: float = 0.4,
                 encoder_attn_drop: float = 0.1,
                 num_encoder_layers: int = 1,
                 num_decoder_layers: int = 1,
                 decoder_heads: int = 1,
                 decoder_self_attention: bool = True,
                 encoder_attention: str = 'geometry',
                 geometry_frequencies: int = 8,
                 normalize_word_vectors: bool = False,
                 calibration_bias: float = 1.0,
                 bias_at_test: bool = True,
                 ce_classes: str = 'all',
                 clip_negative_attributes: bool = False,
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 self_calibration: Optional[dict] = dict(type='SelfCalibrationLoss',
                                                         loss_weight=0.3),
                 attribute_regression: dict = dict(type='AttributeRegressionLoss',
                                                   loss_weight=0.005),
                 class_attributes: Optional[ArrayLike] = None,
                 seen_classes: Optional[Sequence[int]] = None,
                 attribute_group_ids: Optional[ArrayLike] = None,
                 num_prefix_tokens: Optional[int] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(loss=loss, init_cfg=init_cfg)
        check_choice('encoder_attention', encoder_attention, ENCODER_ATTENTIONS)
        check_choice('ce_classes', ce_classes, CE_CLASSES)
        for name, value in (('num_encoder_layers', num_encoder_layers),
                            ('num_decoder_layers', num_decoder_layers)):
            if int(value) < 0:
                raise ValueError(f'{name} must be >= 0, got {value!r}')
        if num_decoder_layers < 1:
            raise ValueError(f'num_decoder_layers must be >= 1 (the attribute queries need the '
                             f'patches), got {num_decoder_layers!r}')
        if embed_dims % decoder_heads:
            raise ValueError(f'embed_dims ({embed_dims}) must be divisible by decoder_heads, '
                             f'got decoder_heads={decoder_heads!r}')
        if word_vectors is None:
            raise ValueError('TransZeroHead needs word_vectors: the [num_attributes, dim] '
                             'word vectors of the attribute names (an array or a .npy path)')
        vectors = read_word_vectors(word_vectors)
        if vectors.shape[0] != num_attributes:
            raise ValueError(f'word_vectors have {vectors.shape[0]} rows; expected one per '
                             f'attribute (num_attributes={num_attributes})')
        self.in_channels, self.embed_dims = in_channels, embed_dims
        self.encoder_attention = encoder_attention
        self.normalize_word_vectors = normalize_word_vectors
        self.calibration_bias, self.bias_at_test = float(calibration_bias), bias_at_test
        self.ce_classes = ce_classes
        self.clip_negative_attributes = clip_negative_attributes
        self.num_prefix_tokens = num_prefix_tokens
        word_dims = vectors.shape[1]
        # V: learnable, initialised with unit rows (a zero row stays zero)
        self.attribute_embeddings = nn.Parameter(F.normalize(vectors, dim=1))
        self.visual_proj = nn.Linear(in_channels, embed_dims)
        self.attribute_proj = nn.Linear(word_dims, embed_dims)
        self.encoder = nn.ModuleList([
            GeometryEncoderLayer(embed_dims, feedforward_channels, dropout, encoder_attn_drop)
            for _ in range(num_encoder_layers)])
        self.geometry_frequencies = geometry_frequencies
        if encoder_attention == 'geometry':
            self.geometry_weight = nn.Linear(8 * geometry_frequencies, 1)
        self.decoder = nn.ModuleList([
            AttributeDecoderLayer(embed_dims, decoder_heads, feedforward_channels, dropout,
                                  decoder_self_attention)
            for _ in range(num_decoder_layers)])
        self.semantic_proj = nn.Parameter(torch.randn(word_dims, embed_dims))  # W_1
        self.self_calibration = (MODELS.build(self_calibration)
                                 if self_calibration is not None else None)
        self.attribute_regression = MODELS.build(attribute_regression)
        self._geometry_cache: Dict[Tuple, torch.Tensor] = {}
        self._init_class_table(num_classes, num_attributes, class_attributes, seen_classes,
                               attribute_group_ids)

    def set_class_attributes(self, class_attributes: ArrayLike, seen_classes: Sequence[int],
                             attribute_group_ids: Optional[ArrayLike] = None) -> None:
        """The class table (:class:`ClassTableMixin`), negative values set to 0 first with
        ``clip_negative_attributes``; with self-calibration on, at least one class must be
        unseen (the term is the probability mass on the unseen classes)."""
        if self.self_calibration is not None and len(set(int(i) for i in seen_classes)) \
                >= self.num_classes:
            raise ValueError('self_calibration needs unseen classes, but seen_classes lists '
                             f'all {self.num_classes} classes; set self_calibration=None')
        if self.clip_negative_attributes:
            array = read_array(class_attributes, 'class attribute')
            class_attributes = np.where(array < 0, 0, array)  # NaN stays NaN: refused next
        super().set_class_attributes(class_attributes, seen_classes, attribute_group_ids)

    # ------------------------------------------------------------ computation
    def patch_tokens(self, feats: Tuple[torch.Tensor]) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """Last backbone output -> (L2-normalised patch tokens [B, N, Dv], grid (h, w))."""
        patches, grid = tokens_to_patch_grid(feats[-1], self.num_prefix_tokens)
        if patches.shape[-1] != self.in_channels:
            raise ValueError(f'patch tokens have width {patches.shape[-1]}; expected '
                             f'in_channels={self.in_channels}')
        return F.normalize(patches, dim=-1), grid

    def word_embeddings(self) -> torch.Tensor:
        """V' [K, Dw]: the learnable attribute embeddings, per-row normalised if asked."""
        v = self.attribute_embeddings
        return F.normalize(v, dim=1) if self.normalize_word_vectors else v

    def geometry_penalty(self, grid: Tuple[int, int], device: torch.device) -> torch.Tensor:
        """[N, N] relu(w^T g_ij + b) >= 0, subtracted from the encoder's attention logits."""
        key = (tuple(grid), str(device))
        emb = self._geometry_cache.get(key)
        if emb is None:
            emb = grid_geometry_embedding(grid, self.geometry_frequencies, device=device)
            self._geometry_cache = {key: emb}
        return F.relu(self.geometry_weight(emb).squeeze(-1))

    def transformer(self, feats: Tuple[torch.Tensor], need_weights: bool = False
                    ) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        """Backbone output -> (T [B, K, d], V' [K, Dw], last decoder layer's cross-attention
        [B, K, N] or None)."""
        patches, grid = self.patch_tokens(feats)
        memory = self.visual_proj(patches)  # [B, N, d]
        penalty = (self.geometry_penalty(grid, memory.device)
                   if self.encoder_attention == 'geometry' and len(self.encoder) else None)
        for layer in self.encoder:
            memory = layer(memory, penalty)
        v = self.word_embeddings()
        t = self.attribute_proj(v).unsqueeze(0).expand(memory.size(0), -1, -1)  # [B, K, d]
        weights = None
        for i, layer in enumerate(self.decoder):
            t, weights = layer(t, memory, need_weights and i == len(self.decoder) - 1)
        return t, v, weights

    def semantic_embedding(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """e [B, K]: e_bk = V'_k W_1 T_bk."""
        t, v, _ = self.transformer(feats)
        return torch.einsum('kw,wd,bkd->bk', v.to(t.dtype), self.semantic_proj.to(t.dtype), t)

    def attribute_maps(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """[B, K, h, w] attention of each attribute query over the h x w patch grid (last
        decoder layer, heads averaged; each map sums to 1), computed without dropout (the
        head in eval mode for the call) and without gradients."""
        _, grid = tokens_to_patch_grid(feats[-1], self.num_prefix_tokens)
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                weights = self.transformer(feats, need_weights=True)[2]  # [B, K, N]
        finally:
            self.train(was_training)
        return tokens_to_maps(weights.transpose(1, 2), grid)

    def bias_vector(self) -> torch.Tensor:
        """[C]: +beta on unseen, -beta on seen classes."""
        sign = 1.0 - 2.0 * self.seen_mask.float()
        return self.calibration_bias * sign

    def class_scores(self, embedding: torch.Tensor, with_bias: bool) -> torch.Tensor:
        """[B, K] e -> [B, C] s = e Â^T (+ the calibration bias), float32."""
        self._seen_index()  # was the class table set at all?
        scores = self.score_classes(embedding, self.class_attributes)
        return scores + self.bias_vector() if with_bias else scores

    def score_classes(self, attributes: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """[B, K] e, [C', K] rows of any class table (:meth:`class_table_rows`) -> [B, C']
        float32 scores e A^T, without the calibration bias (see :meth:`prediction_bias`)."""
        return attributes.float() @ rows.float().t()

    def prediction_bias(self) -> Optional[torch.Tensor]:
        """[C] the calibration bias (+beta unseen, -beta seen) that ``predict`` adds with
        ``bias_at_test``; None without it."""
        return self.bias_vector() if self.bias_at_test else None

    def class_table_rows(self, class_attributes: ArrayLike) -> torch.Tensor:
        """[C', K] raw class attribute vectors -> [C', K] rows as the head prepares its own:
        negatives set to 0 first with ``clip_negative_attributes``, then normalised."""
        if self.clip_negative_attributes:
            array = read_array(class_attributes, 'class attribute')
            class_attributes = np.where(array < 0, 0, array)
        return super().class_table_rows(class_attributes)

    def transzero_losses(self, embedding: torch.Tensor, data_samples: List[DataSample]
                         ) -> Dict[str, torch.Tensor]:
        """``loss_ce``, ``loss_attribute_regression``, ``loss_self_calibration`` (when on)
        and ``train_acc`` (over the classes of the cross-entropy)."""
        target_seen = self.seen_targets(data_samples)  # also refuses unseen labels
        scores = self.class_scores(embedding, with_bias=False)  # [B, C]
        if self.ce_classes == 'all':
            labels = torch.cat([s.gt_label for s in data_samples]).to(scores.device)
            logits, target = scores, labels
        else:
            logits, target = scores.index_select(1, self.seen_class_ids), target_seen
        losses = {'loss_ce': self.loss_module(logits, target, avg_factor=logits.size(0))}
        labels = self.seen_class_ids.index_select(0, target_seen)
        losses['loss_attribute_regression'] = self.attribute_regression(
            embedding.float(), self.class_attributes.index_select(0, labels).float())
        if self.self_calibration is not None:
            losses['loss_self_calibration'] = self.self_calibration(
                scores + self.bias_vector(), ~self.seen_mask)
        with torch.no_grad():
            losses['train_acc'] = (logits.argmax(1) == target).float().mean() * 100
        return losses

    def predictions(self, embedding: torch.Tensor,
                    data_samples: Optional[List[Optional[DataSample]]] = None
                    ) -> List[DataSample]:
        """``pred_score`` softmax [C] over all classes, ``pred_label``, ``pred_attributes`` e
        [K] on each DataSample."""
        embedding = embedding.detach()  # predictions carry no autograd graph
        return write_predictions(self.class_scores(embedding, with_bias=self.bias_at_test),
                                 embedding, data_samples)

    # ------------------------------------------------------------ ClsHead API
    def pre_logits(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """e [B, K] from the last backbone output."""
        return self.semantic_embedding(feats)

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """e [B, K] (mmpretrain's "tensor" mode of ``ImageClassifier``)."""
        return self.pre_logits(feats)

    def loss(self, feats: Tuple[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        return self.transzero_losses(self.pre_logits(feats), data_samples)

    def predict(self, feats: Tuple[torch.Tensor],
                data_samples: Optional[List[Optional[DataSample]]] = None) -> List[DataSample]:
        return self.predictions(self.pre_logits(feats), data_samples)
