"""`import svip_mm` registers every component into mmpretrain's registries, and changes the
process in the ways the package docstring lists, no others.

The components are found from the registries (every entry whose class comes from svip_mm),
not from a list written here, so a new component is checked as soon as it is registered."""
import importlib
import inspect
import json
import pkgutil
import subprocess
import sys

import mmpretrain.registry as mm_registries
import torch
from mmcv.transforms import BaseTransform
from mmengine.dataset import BaseDataset
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmengine.registry import Registry, init_default_scope

import svip_mm

from repo import REPO

# the kinds of class that exist only to be named in configs: each one svip_mm defines must be
# registered (models are left out: svip_mm has nn.Modules that are parts of a component)
REGISTRABLE = {'hook': Hook, 'metric': BaseMetric, 'dataset': BaseDataset,
               'transform': BaseTransform, 'optim_wrapper': OptimWrapper,
               'optimizer wrapper constructor': DefaultOptimWrapperConstructor}


def registered_components():
    """(registry name, component name) -> class, for every svip_mm entry of mmpretrain's
    registries."""
    found = {}
    for registry in vars(mm_registries).values():
        if isinstance(registry, Registry):
            for name, cls in registry.module_dict.items():
                if getattr(cls, '__module__', '').startswith('svip_mm.'):
                    found[(registry.name, name)] = (registry, cls)
    return found


def svip_classes():
    """Every public class defined in a module of svip_mm."""
    classes = []
    for info in pkgutil.walk_packages(svip_mm.__path__, 'svip_mm.'):
        module = importlib.import_module(info.name)
        classes += [obj for name, obj in vars(module).items()
                    if inspect.isclass(obj) and obj.__module__ == info.name
                    and not name.startswith('_')]
    return classes


def test_every_registered_component_is_reachable_exported_and_listed():
    components = registered_components()
    # what the README names at least; the rest is whatever the registries hold
    names = {name for _, name in components}
    assert {'SVIPClassifier', 'SemanticContextToken', 'MaskBackgroundUnits', 'GZSLMetric',
            'ZSLCUB', 'TwoPhaseScheduleHook', 'AutocastOptimWrapper'} <= names
    api_index = (REPO / 'docs/api/index.md').read_text()
    init_default_scope('mmpretrain')
    problems = []
    for (registry_name, name), (registry, cls) in sorted(components.items()):
        if registry.get(name) is not cls:
            problems.append(f'{registry_name}: {name} is not what the mmpretrain scope builds')
        package = cls.__module__.rsplit('.', 1)[0]
        if getattr(importlib.import_module(package), name, None) is not cls:
            problems.append(f'{registry_name}: {name} is not exported by {package}')
        if f'{package}.{name}`' not in api_index:
            problems.append(f'{registry_name}: {name} is missing from the registry table of '
                            'docs/api/index.md')
    assert not problems, '\n'.join(problems)


def test_every_class_made_to_be_named_in_a_config_is_registered():
    registered = {cls for _, cls in registered_components().values()}
    missing = [f'{cls.__module__}.{cls.__name__} ({kind})' for cls in svip_classes()
               for kind, base in REGISTRABLE.items()
               if issubclass(cls, base) and not inspect.isabstract(cls)
               and cls not in registered]
    assert not missing, 'defined but not registered:\n' + '\n'.join(missing)


def test_models_exported_by_the_model_packages_are_registered():
    registered = {cls for _, cls in registered_components().values()}
    missing = []
    for sub in ('backbones', 'necks', 'heads', 'classifiers', 'losses'):
        package = importlib.import_module(f'svip_mm.models.{sub}')
        for name in package.__all__:
            obj = getattr(package, name)
            if inspect.isclass(obj) and issubclass(obj, torch.nn.Module) and \
                    obj not in registered:
                missing.append(f'svip_mm.models.{sub}.{name}')
    assert not missing, 'exported model classes that are not registered:\n' + '\n'.join(missing)


# the process before and after `import svip_mm`, in a fresh interpreter
_SIDE_EFFECTS = r'''
import json, warnings
# what svip_mm imports from other packages first: their own warning filters are not svip_mm's
import matplotlib.pyplot, mmpretrain, scipy.io, scipy.sparse, timm, torch
from mmengine.fileio.backends import backends as file_backends
from mmengine.runner.checkpoint import CheckpointLoader
before = dict(schemes={k: v.__module__ for k, v in CheckpointLoader._schemes.items()},
              backends=sorted(file_backends), safe_globals=len(torch.serialization.get_safe_globals()),
              filters=len(warnings.filters))
import svip_mm
after = dict(schemes={k: v.__module__ for k, v in CheckpointLoader._schemes.items()},
             backends=sorted(file_backends), safe_globals=len(torch.serialization.get_safe_globals()),
             filters=len(warnings.filters))
print(json.dumps(dict(before=before, after=after)))
'''


def test_import_changes_only_what_the_package_docstring_lists(tmp_path):
    proc = subprocess.run([sys.executable, '-c', _SIDE_EFFECTS], cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    state = json.loads(proc.stdout.strip().splitlines()[-1])
    before, after = state['before'], state['after']
    # (2) every scheme MMEngine had is read by svip_mm's safe reader, and no new one appears
    assert set(after['schemes']) == set(before['schemes'])
    assert set(after['schemes'].values()) == {'svip_mm.engine.safe_checkpoint'}
    # (3) one more file backend, nothing replaced
    assert set(after['backends']) - set(before['backends']) == {'svip_atomic_local'}
    assert set(before['backends']) <= set(after['backends'])
    # nothing in torch's allow-list; (4) the one warning filter
    assert after['safe_globals'] == before['safe_globals']
    assert after['filters'] - before['filters'] == 1
    doc = svip_mm.__doc__
    assert 'svip_atomic_local' in doc and 'MultiScaleDeformableAttention' in doc
    assert 'changes nothing in torch' in doc


def test_no_mmcv_lite_warning_on_import_or_tool_start(tmp_path):
    """mmcv-lite's 'Fail to import MultiScaleDeformableAttention' used to print on every
    command."""
    for cmd in ([sys.executable, '-c', 'import svip_mm'],
                [sys.executable, str(REPO / 'tools/train.py'), '--help']):
        proc = subprocess.run(cmd, cwd=str(tmp_path), capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert 'MultiScaleDeformableAttention' not in proc.stderr
