"""svip_mm.experiments.report_header: what made the report, on its first lines."""
from svip_mm.experiments.report_header import report_header


def test_header_quotes_the_command_line_and_lists_seeds_and_threads():
    records = {'a': [dict(seed=2, threads=1), dict(seed=0, threads=1)], 'b': [dict(seed=1)]}
    lines = report_header('Title', 'exp', ['exp', '--jobs', '2'], records)
    assert lines[:3] == ['<!-- written by tools/run_ablation.py exp; edit the text around the '
                         'tables in docs/results.md, not here -->', '# Title: exp', '']
    assert lines[3].startswith('Report written by `python tools/run_ablation.py exp --jobs 2` '
                               'on ')
    # a record without its thread count shows as ?
    assert 'seeds [0, 1, 2]; each run trained with 1/? thread(s).' in lines[3]
    assert len(lines) == 4
