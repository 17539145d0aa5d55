"""svip_mm.utils.atomic_write: the one atomic file writer of the generator, the pretrained
backbone step and the checkpoint converter (issue 15)."""
import zipfile

import pytest
import torch

from svip_mm.utils.atomic_write import temporary_name, write_all_atomic, write_atomic


def test_written_in_order_and_no_temporary_left(tmp_path):
    a, b = tmp_path / 'a.npy', tmp_path / 'b.pth'
    a.write_text('old')
    seen = []

    def write(text):
        def go(temp):
            assert temp.parent == tmp_path and temp.name.startswith('.') and temp.exists()
            seen.append(sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith('.')))
            temp.write_text(text)
        return go

    write_all_atomic([(a, write('A')), (b, write('B'))])
    assert (a.read_text(), b.read_text()) == ('A', 'B')
    assert seen == [['a.npy'], ['a.npy']]  # nothing replaced before every write is done
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a.npy', 'b.pth']


def test_a_failed_write_replaces_nothing_and_removes_the_temporaries(tmp_path):
    a, b = tmp_path / 'a.txt', tmp_path / 'b.txt'
    a.write_text('old')

    def fail(temp):
        temp.write_text('half')
        raise OSError('disk full')

    with pytest.raises(OSError, match='disk full'):
        write_all_atomic([(a, lambda temp: temp.write_text('new')), (b, fail)])
    assert a.read_text() == 'old' and not b.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a.txt']


def test_temporary_names(tmp_path):
    plain, kept = temporary_name(tmp_path / 'x.png'), temporary_name(tmp_path / 'x.png', True)
    assert plain.name.startswith('.x.png.tmp-') and kept.suffix == '.png'
    assert temporary_name(tmp_path / 'x.png') != plain  # fresh every time
    # torch.save names the folder in its zip after the part before the last dot: the same in
    # every run, so equal payloads give equal files
    out = tmp_path / 'w.pth'
    write_atomic(out, lambda temp: torch.save({'w': torch.zeros(2)}, temp))
    first = out.read_bytes()
    assert {n.split('/')[0] for n in zipfile.ZipFile(out).namelist()} == {'.w.pth'}
    write_atomic(out, lambda temp: torch.save({'w': torch.zeros(2)}, temp))
    assert out.read_bytes() == first
