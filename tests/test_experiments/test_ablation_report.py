"""svip_mm.experiments.ablation_report: statistics over seeds, the report's tables and
criteria, the figure."""
import matplotlib.pyplot as plt
import numpy as np

from svip_mm.experiments.ablation_report import summarise, write_ablation_report
from svip_mm.experiments.spec import read_experiments

ARGV = ['EXPERIMENT', '--seeds', '0', '1']  # the command line the report quotes


def test_summary_statistics_are_mean_sample_std_and_range():
    s = summarise([50.0, 60.0, 70.0])
    assert s == dict(mean=60.0, std=10.0, min=50.0, max=70.0, n=3)
    assert summarise([5.0])['std'] == 0.0
    assert np.isclose(summarise([1.0, 3.0])['std'], np.sqrt(2))


def _record(seed, h, t1=70.0, auroc=None, unseen_shape=None):
    metrics = {'zsl/top1': t1, 'gzsl/U': h, 'gzsl/S': h, 'gzsl/H': h}
    if auroc is not None:
        metrics['selection/selector_auroc'] = auroc
    if unseen_shape is not None:
        metrics['attributes/shape_unseen'] = unseen_shape
        metrics['attributes/mean_unseen'] = unseen_shape
    return dict(seed=seed, wall_s=100.0 + seed, metrics=metrics)


def test_report_table_criteria_and_figure(tmp_path):
    report = str(tmp_path / 'difficulty.md')
    records = {'clean': [_record(0, 50.0), _record(1, 54.0)],
               'baseline': [_record(0, 44.0, unseen_shape=40.0),
                           _record(1, 46.0, unseen_shape=50.0)],
               'oracle_mask': [_record(0, 52.0), _record(1, 54.0)]}
    records['oracle_mask'][1]['attempts'] = 2
    criteria = write_ablation_report('difficulty', records, report, ARGV)
    # clean 52 - clutter 45 = +7 (>= 5: met); oracle 53 - clutter 45 = +8 (< 10: not met)
    assert criteria == ['- clutter costs >= 5 H (clean - clutter): +7.0 -> met; per seed '
                        '0: +6.0, 1: +8.0 (every seed positive)',
                        '- oracle masking wins >= 10 H back (oracle - clutter): +8.0 -> NOT met; '
                        'per seed 0: +8.0, 1: +8.0 (every seed positive)']
    text = (tmp_path / 'difficulty.md').read_text()
    assert '| ViT + head, clean background | 70.0 ± 0.0 (70.0–70.0) |' in text
    assert '52.0 ± 2.8 (50.0–54.0)' in text  # H of the clean runs, std of 50 and 54
    assert '| ViT + head, clutter | 45.0 ± 7.1 (40.0–50.0) | 45.0 ± 7.1 (40.0–50.0) |' in text
    assert (tmp_path / 'difficulty.png').stat().st_size > 1000
    # the resumed run, and only it, is marked
    assert text.count('(resumed)') == 2 and 'oracle_mask.py` (resumed) | 1 |' in text


def test_pretrained_report_attention_only_row_absolute_criterion_and_negative_seed(tmp_path):
    report = str(tmp_path / 'pretrained.md')
    svip = [_record(0, 60.0, auroc=0.86), _record(1, 50.0, auroc=0.82)]
    base = [_record(0, 55.0), _record(1, 51.0)]
    attn = [_record(0, 1.0), _record(1, 2.0)]
    for r, a in zip(svip + base + attn, [0.8, 0.7, 0.6, 0.5, 0.85, 0.85]):
        r['metrics']['selection/attention_auroc'] = a
    records = {'svip_pt': svip, 'baseline_pt_time': base, 'pretrained_attn': attn}
    criteria = write_ablation_report('pretrained', records, report, ARGV)
    # 55 - 53 = +2 (< 3), seed 1 +(-1): not every seed; selector mean 0.84 < 0.85
    assert criteria == ['- SVIP beats the baseline by >= 3 H (pretrained ViT, same time: 60 '
                        'epochs): +2.0 '
                        '-> NOT met; per seed 0: +5.0, 1: -1.0 (NOT every seed positive)',
                        '- selector AUROC >= 0.85 (pretrained ViT): mean 0.840 -> NOT met']
    text = (tmp_path / 'pretrained.md').read_text()
    # the untrained model shows its attention only, in the table and in the runs
    assert ('| pretrained ViT before fine-tuning (attention only) | - | - | - | - | - | '
            '0.850 ± 0.000 (0.850–0.850) |') in text
    assert '_attention.py` | 1 | - | - | - | - | - | 0.850 | 101 |' in text
    assert '| 0.750 ± 0.071 (0.700–0.800) |' in text  # SVIP's attention AUROC


def test_figure_legend_with_every_variant_is_not_cut_at_the_edges(tmp_path):
    records = {key: [_record(0, 50.0 + i)]
               for i, (key, _, _) in enumerate(read_experiments().variants['pretrained'])}
    write_ablation_report('pretrained', records, str(tmp_path / 'pretrained.md'), ARGV)
    # long labels reaching the image's border would be cut there: its border columns stay white
    image = plt.imread(str(tmp_path / 'pretrained.png'))[..., :3]
    assert (image[:, :2] == 1.0).all() and (image[:, -2:] == 1.0).all()
