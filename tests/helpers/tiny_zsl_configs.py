"""The ImageClassifier ZSL configs (the "ViT + attribute head" baseline, APN, TransZero) shrunk
for tests as ``tiny_config.tiny_cfg`` shrinks SVIP's: a 2-layer 32-d ViT on a few images per
class, no dataloader workers, seed 0."""
from pathlib import Path

from mmengine.config import Config

from repo import REPO

# name -> the config it shrinks
CONFIGS = {
    'baseline': 'configs/baseline_vit_synthetic.py',
    'apn': 'configs/apn/apn_vit_synthetic.py',
    'transzero': 'configs/transzero/transzero_vit_synthetic.py',
}
HEADS = {'baseline': 'SemanticAttributeHead', 'apn': 'APNHead', 'transzero': 'TransZeroHead'}
WIDTH = 32  # the tiny ViT's embed_dims


def tiny_zsl_cfg(name: str, data_root: Path, work_dir: Path, epochs: int = 1,
                 images_per_class: int = 3, batch_size: int = 32) -> Config:
    """``CONFIGS[name]`` with the data under ``data_root`` (one folder may serve all three,
    and SVIP's tiny config too: the same generator and word-vector file), a tiny ViT
    (32-d, 2 layers, 2 heads, patch 8 at 64 px) and, for TransZero, a small transformer."""
    cfg = Config.fromfile(str(REPO / CONFIGS[name]))
    words = str(Path(data_root) / 'glove50.npy')
    for loader in ('train_dataloader', 'test_dataloader'):
        cfg[loader].update(batch_size=batch_size, num_workers=0, persistent_workers=False)
        cfg[loader].dataset.update(data_root=str(data_root),
                                   generator_overrides=dict(images_per_class=images_per_class))
    cfg.model.backbone.arch = dict(embed_dims=WIDTH, num_layers=2, num_heads=2,
                                   feedforward_channels=2 * WIDTH)
    cfg.model.backbone.drop_path_rate = 0.0
    cfg.model.head.in_channels = WIDTH
    if name == 'transzero':
        cfg.data_preparation[1].update(
            names_file=str(Path(data_root) / 'attributes/attributes.txt'), out=words)
        cfg.model.head.update(word_vectors=words, embed_dims=16, feedforward_channels=32)
    cfg.train_cfg.max_epochs = epochs
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(work_dir)
    cfg.randomness = dict(seed=0)
    return cfg


def train_tiny_zsl(name: str, base: Path, data_root: Path, epochs: int = 1):
    """Train :func:`tiny_zsl_cfg` in ``base/work`` (config written to ``base/tiny.py`` for the
    tools) on one thread. Returns ``(cfg, path of the last epoch's checkpoint)``."""
    import copy

    import torch
    from mmengine.runner import Runner

    from svip_mm.engine import prepare_data
    torch.set_num_threads(1)
    base = Path(base)
    cfg = tiny_zsl_cfg(name, data_root, base / 'work', epochs=epochs)
    cfg.dump(str(base / 'tiny.py'))
    prepare_data(cfg)
    Runner.from_cfg(copy.deepcopy(cfg)).train()
    return cfg, base / f'work/epoch_{epochs}.pth'
