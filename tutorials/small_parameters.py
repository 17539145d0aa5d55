"""The small parameters of the tutorials: shrunk runs for the tests and the quick docs build.

``tests/test_docs/test_tutorials.py`` and ``tools/build_docs.py --quick`` both inject these values after
each notebook's cell tagged ``parameters``; they add the paths (repository, data, work dir)
themselves, since those depend on where the notebook runs. Plain Python, no svip_mm import.
"""
import copy

# a tiny ViT that keeps the 64 px input and the 4 x 4 unit grid of the default job
TINY_ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, patch_size=8, img_size=64)
TINY_IMAGES_PER_CLASS = 5

SMALL_PARAMETERS: dict[str, dict] = {
    '01_quick_start.ipynb': dict(
        images_per_class=TINY_IMAGES_PER_CLASS, arch=TINY_ARCH, max_epochs=2, batch_size=32,
        num_workers=0),
    '02_attention_visualisation.ipynb': dict(
        images_per_class=TINY_IMAGES_PER_CLASS, arch=TINY_ARCH, max_epochs=2, batch_size=32,
        num_workers=0, num_images=None),
    '03_mixing_components.ipynb': dict(
        images_per_class=TINY_IMAGES_PER_CLASS, num_workers=0,
        baseline_arch=dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64),
        baseline_epochs=1,
        svip_arch=dict(embed_dims=48, num_layers=2, num_heads=3, patch_size=4, img_size=64),
        mm_arch=dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)),
    # already small by default (a stand-in dataset and checkpoint): only the paths change
    '04_real_datasets.ipynb': dict(),
}


def small_parameters(name: str, **paths) -> dict:
    """The small parameters of notebook ``name`` (e.g. ``'01_quick_start.ipynb'``), a copy,
    with the caller's ``paths`` (``repo_root``, ``data_root``, ``work_dir``, ...) first."""
    return dict(paths, **copy.deepcopy(SMALL_PARAMETERS[name]))
