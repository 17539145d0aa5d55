"""svip_mm.experiments.methods_report: one table per regime, the test-tuned figures labelled,
the paired per-seed differences against each regime's reference."""
from svip_mm.experiments.methods_report import write_methods_report


def _method_record(seed, h, cal_h, gamma=0.4, t1=70.0, wall=100.0):
    metrics = {'zsl/top1': t1, 'gzsl/U': h - 5, 'gzsl/S': h + 5, 'gzsl/H': h,
               'oracle/H': cal_h + 3, 'official/H': cal_h + 6}
    return dict(seed=seed, wall_s=wall, config_digest='d', metrics=metrics,
                calibrated=dict(gamma=gamma, U=cal_h - 4, S=cal_h + 4, H=cal_h, T1=t1,
                                wall_s=wall / 2))


def test_methods_report_columns_labels_and_paired_differences(tmp_path):
    report = str(tmp_path / 'methods.md')
    records = {
        'svip': [_method_record(0, 60.0, 64.0), _method_record(1, 50.0, 66.0),
                 _method_record(2, 55.0, 68.0)],
        # H at gamma 0: +2, -3, +3 against SVIP; TransZero's std over 62, 47, 58: deviations
        # 19/3, -26/3, 7/3 -> sqrt(1086 / 18) = 7.77 > SVIP's 5.0: inside (0.7 <= 7.8).
        # Calibrated: +10, +10, +11 (mean 10.3, std sqrt(1/3) = 0.6); SVIP's std 2.0,
        # TransZero's over 74, 76, 79: sqrt(38 / 6) = 2.52: outside (10.3 > 2.5)
        'transzero': [_method_record(0, 62.0, 74.0, gamma=0.5), _method_record(1, 47.0, 76.0),
                      _method_record(2, 58.0, 79.0)],
        'svip_pt': [_method_record(0, 63.0, 66.0), _method_record(1, 65.0, 68.0)],
        'apn_pt': [_method_record(0, 60.0, 70.0), _method_record(1, 61.0, 70.0)],
    }
    lines = write_methods_report('methods', records, report, ['methods', '--seeds', '0', '1', '2'])
    text = (tmp_path / 'methods.md').read_text()
    header = ('| method | ZSL T1 | U (γ 0) | S (γ 0) | H (γ 0) | H, calibrated γ | calibrated γ | '
              'oracle H (test-tuned γ) | official H (test-tuned γ, per-sample) | training (s) | '
              'calibration (s) |')
    assert text.count(header) == 2  # one table per regime
    assert text.index('## from scratch') < text.index('## from the pretrained source ViT')
    # SVIP: H 60, 50, 55 -> 55.0 ± 5.0; calibrated 64, 66, 68 -> 66.0 ± 2.0; gamma 0.40;
    # oracle = calibrated + 3, official + 6; wall 100 and 50
    assert ('| SVIP | 70.0 ± 0.0 | 50.0 ± 5.0 | 60.0 ± 5.0 | 55.0 ± 5.0 | 66.0 ± 2.0 | '
            '0.40 ± 0.00 | 69.0 ± 2.0 | 72.0 ± 2.0 | 100 ± 0 | 50 ± 0 |') in text
    # the transductive method is marked in its row, the mark explained once
    assert '| TransZero (transductive) | 70.0 ± 0.0 |' in text
    assert "(transductive): the method reads the unseen classes' attribute vectors" in text
    assert 'Test-tuned' in text and 'never a result' in text
    assert lines == [
        '- TransZero - SVIP, H at gamma 0: +0.7 ± 3.2 (min -3.0, max +3.0) over seeds [0, 1, 2]; '
        'per seed 0: +2.0, 1: -3.0, 2: +3.0; inside the seed spread (|0.7| <= 7.8, the larger '
        'seed std)',
        '- TransZero - SVIP, calibrated H: +10.3 ± 0.6 (min +10.0, max +11.0) over seeds '
        '[0, 1, 2]; per seed 0: +10.0, 1: +10.0, 2: +11.0; OUTSIDE the seed spread (|10.3| > '
        '2.5, the larger seed std)',
        # the pretrained regime is paired with its own reference; APN's H std 0.7, SVIP's 1.4
        '- APN, pretrained ViT - SVIP, pretrained ViT, H at gamma 0: -3.5 ± 0.7 (min -4.0, max '
        '-3.0) over seeds [0, 1]; per seed 0: -3.0, 1: -4.0; OUTSIDE the seed spread (|-3.5| > '
        '1.4, the larger seed std)',
        '- APN, pretrained ViT - SVIP, pretrained ViT, calibrated H: +3.0 ± 1.4 (min +2.0, max '
        '+4.0) over seeds [0, 1]; per seed 0: +4.0, 1: +2.0; OUTSIDE the seed spread (|3.0| > '
        '1.4, the larger seed std)']
    assert all(line in text for line in lines)
    assert 'Paired per-seed differences against SVIP, pretrained ViT' in text
    # the per-run rows: honest, calibrated and test-tuned figures, both wall times
    assert ('| TransZero (transductive) | `configs/transzero/transzero_vit_synthetic.py` | 0 | '
            '70.0 | 57.0 | 67.0 | 62.0 | 0.50 | 70.0 | 78.0 | 74.0 | 77.0 | 80.0 | 100 | 50 |'
            ) in text
