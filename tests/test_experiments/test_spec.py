"""svip_mm.experiments.spec: the experiments' data files name real configs that differ from
each other, and what a file lacks is an error naming it."""
import pytest
from mmengine.config import Config

from svip_mm.experiments.spec import load_experiments, load_settings, read_experiments

from repo import REPO


def test_every_experiment_config_loads_and_differs_from_the_others_in_its_experiment():
    spec = read_experiments()
    for experiment, entries in spec.variants.items():
        texts = set()
        epochs = Config.fromfile(str(REPO / entries[0][2])).train_cfg.max_epochs
        for key, _, path in entries:
            cfg = Config.fromfile(str(REPO / path))
            if key.endswith('_time'):  # given the first variant's wall time: more epochs
                assert cfg.train_cfg.max_epochs > epochs, path
            elif key in spec.attention_only:  # not trained: only its attention is measured
                assert cfg.train_cfg.max_epochs == 0, path
            else:  # same schedule
                assert cfg.train_cfg.max_epochs == epochs, path
            texts.add(cfg.pretty_text)
        assert len(texts) == len(entries), experiment
        keys = {k for k, _, _ in entries}
        for _, a, b, _, _ in spec.criteria[experiment]:
            assert {a, b} <= keys
        for _, key, _, _ in spec.absolute_criteria.get(experiment, []):
            assert key in keys
    for key, probe in spec.attention_probe.items():
        assert Config.fromfile(str(REPO / probe)).train_cfg.max_epochs == 0, probe
        assert any(key in {k for k, _, _ in e} for e in spec.variants.values())


def test_experiments_are_read_from_their_data_files(tmp_path):
    assert sorted(read_experiments().variants) == sorted(
        p.stem for p in (REPO / 'configs/experiments').glob('*.py'))
    (tmp_path / 'mine.py').write_text(
        "variants = [dict(key='a', label='A', config='configs/svip_vit_synthetic.py'),\n"
        "            dict(key='b', label='B', config='configs/baseline_vit_synthetic.py',\n"
        "                 attention_probe='probe.py')]\n"
        "criteria = [dict(text='A beats B', a='a', b='b', metric='gzsl/H', least=3)]\n")
    experiments, criteria, absolute, attention_only, probes = load_experiments(str(tmp_path))
    assert experiments == {'mine': [('a', 'A', 'configs/svip_vit_synthetic.py'),
                                    ('b', 'B', 'configs/baseline_vit_synthetic.py')]}
    assert criteria == {'mine': [('A beats B', 'a', 'b', 'gzsl/H', 3.0)]}
    assert absolute == {} and attention_only == set() and probes == {'b': 'probe.py'}
    (tmp_path / 'broken.py').write_text("variants = []\n")
    with pytest.raises(ValueError, match=r'broken\.py: expected the keys variants and criteria, '
                                         r"missing \['criteria'\]"):
        load_experiments(str(tmp_path))


def test_methods_experiment_names_configs_that_exist_and_load():
    spec = read_experiments()
    settings = spec.settings['methods']
    entries = spec.variants['methods']
    assert settings['calibrate'] and spec.criteria['methods'] == []
    configs = {key: path for key, _, path in entries}
    assert configs == {
        'svip': 'configs/svip_vit_synthetic.py',
        'baseline': 'configs/baseline_vit_synthetic.py',
        'apn': 'configs/apn/apn_vit_synthetic.py',
        'transzero': 'configs/transzero/transzero_vit_synthetic.py',
        'transzero_inductive': 'configs/transzero/transzero_vit_synthetic_inductive.py',
        'svip_pt': 'configs/pretrained/svip_vit_synthetic_pretrained.py',
        'baseline_pt': 'configs/pretrained/baseline_vit_synthetic_pretrained.py',
        'apn_pt': 'configs/apn/apn_vit_synthetic_pretrained.py',
        'transzero_pt': 'configs/transzero/transzero_vit_synthetic_pretrained.py'}
    assert settings['transductive'] == {'transzero', 'transzero_pt'}
    pretrained = {k for k in configs if k.endswith('_pt')}
    assert {k for k, r in settings['reference'].items() if r == 'svip_pt'} == pretrained
    assert {k for k, r in settings['reference'].items() if r == 'svip'} == \
        set(configs) - pretrained
    for key, path in configs.items():
        cfg = Config.fromfile(str(REPO / path))
        # the calibrated gamma is set through GZSLMetric at test_evaluator.0, and every block
        # (honest, oracle, official) is reported
        assert cfg.test_evaluator[0]['type'] == 'GZSLMetric', path
        assert 'blocks' not in cfg.test_evaluator[0], path
        # the two regimes: from scratch, or from the pretrained source backbone
        init = cfg.model.backbone.get('init_cfg') or {}
        assert (init.get('type') == 'Pretrained') == (key in pretrained), path


def test_a_key_names_the_same_config_in_every_experiment():
    # runs are stored under --work-dir/<key>: two configs under one key would share folders
    seen = {}
    for experiment, entries in read_experiments().variants.items():
        for key, _, path in entries:
            assert seen.setdefault(key, (experiment, path))[1] == path, (key, experiment)
    assert seen['svip'][1] == 'configs/svip_vit_synthetic.py'


def test_settings_name_the_data_file_and_what_it_lacks(tmp_path):
    base = ("variants = [dict(key='a', label='A', config='a.py', regime='r1'),\n"
            "            dict(key='b', label='B', config='b.py', regime='r2')]\n"
            "criteria = []\n")
    (tmp_path / 'mine.py').write_text(base + "calibrate = True\n")
    with pytest.raises(ValueError, match=r'mine\.py: calibrate = True needs reference'):
        load_settings(str(tmp_path))
    (tmp_path / 'mine.py').write_text(base + "calibrate = True\nreference = dict(r1='a')\n")
    with pytest.raises(ValueError, match=r"mine\.py: variant 'b' has regime 'r2', which "
                                         r"reference does not name"):
        load_settings(str(tmp_path))
    (tmp_path / 'mine.py').write_text(base + "calibrate = True\nreference = dict(r1='b', "
                                      "r2='b')\n")
    with pytest.raises(ValueError, match=r"mine\.py: reference 'r1': 'b' is not a variant of "
                                         r"that regime; expected one of \['a'\]"):
        load_settings(str(tmp_path))
    (tmp_path / 'mine.py').write_text(base + "reference = 'c'\n")
    with pytest.raises(ValueError, match=r"reference 'c' is not a variant key"):
        load_settings(str(tmp_path))
    (tmp_path / 'mine.py').write_text(base + "reference = 'a'\n")
    assert load_settings(str(tmp_path))['mine'] == dict(
        calibrate=False, reference={'a': 'a', 'b': 'a'}, regime={'a': 'r1', 'b': 'r2'},
        transductive=set())


def test_the_files_are_read_once_per_process():
    # the command line's choices, the runs and the report share one reading
    assert read_experiments() is read_experiments()
    assert read_experiments().settings == load_settings()
