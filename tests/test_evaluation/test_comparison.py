"""svip_mm.evaluation.comparison: paired per-seed differences, the inside-the-seed-spread
rule, and the methods table's rows, on hand-made numbers."""
import numpy as np
import pytest


def test_paired_difference_on_hand_made_numbers():
    from svip_mm.evaluation import inside_seed_spread, paired_difference
    # seed 3 has no partner: left out. Differences +2, -3, +3: mean 2/3, deviations 4/3, -11/3,
    # 7/3, squares 16/9 + 121/9 + 49/9 = 186/9, / 2 -> std sqrt(31/3) = 3.2146
    d = paired_difference({0: 60.0, 1: 50.0, 2: 55.0}, {0: 58.0, 1: 53.0, 2: 52.0, 3: 99.0})
    assert d['seeds'] == [0, 1, 2] and d['diffs'] == [2.0, -3.0, 3.0] and d['n'] == 3
    assert d['mean'] == pytest.approx(2 / 3)
    assert d['std'] == pytest.approx(np.sqrt(31 / 3))
    assert (d['min'], d['max']) == (-3.0, 3.0)
    # A: 60, 50, 55 (mean 55, deviations 5, -5, 0: std 5); B: 58, 53, 52 (std sqrt(31/3))
    assert d['std_a'] == pytest.approx(5.0) and d['std_b'] == pytest.approx(np.sqrt(31 / 3))
    assert d['spread'] == pytest.approx(5.0) and d['inside_spread'] is True  # 0.67 <= 5
    # +10, +11: mean 10.5; A 70, 72 (std sqrt 2), B 60, 61 (std sqrt(1/2)): 10.5 > 1.41
    far = paired_difference({0: 70.0, 1: 72.0}, {0: 60.0, 1: 61.0})
    assert far['mean'] == 10.5 and far['std'] == pytest.approx(np.sqrt(0.5))
    assert far['spread'] == pytest.approx(np.sqrt(2)) and far['inside_spread'] is False
    # the rule's edge: equal is inside; one seed has no spread
    assert inside_seed_spread(-2.0, 2.0, 1.0, 3) is True
    assert inside_seed_spread(2.01, 2.0, 1.0, 3) is False
    assert paired_difference({0: 1.0}, {0: 3.0})['inside_spread'] is None
    with pytest.raises(ValueError, match=r'no seed in common.*\[0\].*\[1\]'):
        paired_difference({0: 1.0}, {1: 1.0})


def test_paired_difference_and_methods_rows_are_formatted():
    from svip_mm.evaluation import (format_methods_rows, format_paired_difference,
                                    paired_difference)
    d = paired_difference({0: 60.0, 1: 50.0, 2: 55.0}, {0: 58.0, 1: 53.0, 2: 52.0})
    assert format_paired_difference('A - B, H', d) == (
        '- A - B, H: +0.7 ± 3.2 (min -3.0, max +3.0) over seeds [0, 1, 2]; per seed 0: +2.0, '
        '1: -3.0, 2: +3.0; inside the seed spread (|0.7| <= 5.0, the larger seed std)')
    far = paired_difference({0: 70.0, 1: 72.0}, {0: 60.0, 1: 61.0})
    assert format_paired_difference('A - B', far).endswith(
        'OUTSIDE the seed spread (|10.5| > 1.4, the larger seed std)')
    assert format_paired_difference('A - B', paired_difference({4: 1.0}, {4: 3.0})).endswith(
        'per seed 4: -2.0; one seed: no spread to judge against')
    rows = format_methods_rows(
        [dict(label='A', values={'h': [50.0, 54.0], 'g': [0.4, 0.5]}),
         dict(label='T', transductive=True, values={'h': [1.0]})],
        [('h', 'H', 1), ('g', 'γ', 2)])
    # std of 50 and 54: sqrt(8) = 2.83; of 0.4 and 0.5: sqrt(0.005) = 0.07
    assert rows == ['| method | H | γ |', '|---|---|---|', '| A | 52.0 ± 2.8 | 0.45 ± 0.07 |',
                    '| T (transductive) | 1.0 ± 0.0 | - |']
