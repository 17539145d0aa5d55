"""A test-time hook that writes the one-image summary figure of evaluated images.

``tools/test.py --show-dir DIR [--show-max N]`` puts it into ``default_hooks.visualization``;
a config can name it directly (importing ``svip_mm.visualization`` registers it)::

    custom_imports = dict(imports=['svip_mm', 'svip_mm.visualization'],
                          allow_failed_imports=False)
    default_hooks = dict(visualization=dict(
        type='SVIPVisualizationHook', enable=True, out_dir='work_dirs/vis', max_images=16))
"""
import os
import os.path as osp
from typing import Optional, Sequence

import mmcv
import numpy as np
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from .analysis import analyse_image
from .grid import input_to_display
from .summary import plot_image_summary, prediction_title

__all__ = ['SVIPVisualizationHook']


@HOOKS.register_module()
class SVIPVisualizationHook(Hook):
    """Write :func:`~svip_mm.visualization.plot_image_summary` figures of test images.

    For each drawn image the hook re-runs the model on that one image
    (:func:`~svip_mm.visualization.analyse_image`: for SVIP the inference pass and the source
    pass with attention maps; for an ImageClassifier with a ZSL head one pass, the attention
    read by hooks), so the figures cost one or two forward passes per image; the cap keeps
    that small. Any ZSL model works; the figure has the panels the model can give. Files are
    named ``<sample_idx>_<image name>.png``. In a distributed
    test every process draws its own images (the cap is per process).

    Args:
        enable: draw at all (``tools/test.py --show-dir`` sets it).
        out_dir: where the PNGs go (created); default ``<work_dir>/visualization``.
        max_images: draw at most this many images (the first ones in test order, every
            ``interval``-th); ``None`` draws all.
        interval: draw every ``interval``-th evaluated image.
        top_attributes: attributes localised per image.
        gt_masks: show the ground-truth foreground mask beside the selection when the sample
            has one (``gt_fg_mask`` from :class:`LoadForegroundMask`) or the dataset's data
            info names one (``fg_mask_path``, the synthetic data).
        dpi: resolution of the PNGs.
    """
    priority = 'NORMAL'

    def __init__(self, enable: bool = False, out_dir: Optional[str] = None,
                 max_images: Optional[int] = 16, interval: int = 1, top_attributes: int = 4,
                 gt_masks: bool = True, dpi: int = 100):
        if max_images is not None and int(max_images) < 0:
            raise ValueError(f'SVIPVisualizationHook: max_images must be >= 0 or None, got '
                             f'{max_images!r}')
        if int(interval) < 1:
            raise ValueError(f'SVIPVisualizationHook: interval must be >= 1, got {interval!r}')
        self.enable = bool(enable)
        self.out_dir = out_dir
        self.max_images = None if max_images is None else int(max_images)
        self.interval = int(interval)
        self.top_attributes = int(top_attributes)
        self.gt_masks = bool(gt_masks)
        self.dpi = int(dpi)
        self._count = 0
        self.written = []

    def before_test(self, runner) -> None:
        self._count = 0
        self.written = []
        if self.enable:
            if self.out_dir is None:
                self.out_dir = osp.join(runner.work_dir, 'visualization')
            os.makedirs(self.out_dir, exist_ok=True)

    def _full(self) -> bool:
        return self.max_images is not None and len(self.written) >= self.max_images

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict = None,
                        outputs: Optional[Sequence] = None) -> None:
        if not self.enable or self._full() or not outputs:
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        preprocessor = model.data_preprocessor
        bgr = bool(getattr(preprocessor, 'to_rgb', False) or
                   getattr(preprocessor, '_channel_conversion', False))
        dataset = getattr(runner.test_dataloader, 'dataset', None)
        meta = getattr(dataset, 'metainfo', None) or {}
        for raw, sample in zip(data_batch['inputs'], outputs):
            self._count += 1
            if (self._count - 1) % self.interval:
                continue
            if self._full():
                return
            inputs = preprocessor(dict(inputs=[raw]), False)['inputs']
            analysis = analyse_image(model, inputs, input_to_display(raw, bgr),
                                     meta.get('classes'), meta.get('attribute_names'),
                                     data_sample=sample)
            img_path = sample.metainfo.get('img_path')
            idx = sample.metainfo.get('sample_idx', self._count - 1)
            name = osp.splitext(osp.basename(img_path))[0] if img_path else 'image'
            gt = sample.get('gt_label')
            gt = None if gt is None else int(np.asarray(gt.cpu()).reshape(-1)[0])
            fig = plot_image_summary(
                analysis, self._gt_mask(sample, dataset), self.top_attributes,
                title=prediction_title(analysis, gt, f'#{idx} {name}'))
            path = osp.join(self.out_dir, f'{int(idx):06d}_{name}.png')
            fig.savefig(path, dpi=self.dpi)
            self.written.append(path)

    def _gt_mask(self, sample, dataset) -> Optional[np.ndarray]:
        if not self.gt_masks:
            return None
        mask = sample.get('gt_fg_mask')
        if mask is not None:
            return np.asarray(mask.cpu() if hasattr(mask, 'cpu') else mask)
        idx = sample.metainfo.get('sample_idx')
        if idx is None or not hasattr(dataset, 'get_data_info'):
            return None
        path = dataset.get_data_info(int(idx)).get('fg_mask_path')
        if not path or not osp.isfile(path):
            return None
        return mmcv.imread(path, flag='unchanged')
