"""The entry points: :func:`generate_synthetic_zsl` (always write the dataset) and
:func:`ensure_synthetic_zsl` (use the folder's dataset, generate it if absent, restore missing
files, refuse other parameters unless asked to regenerate)."""
import json
import logging
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional

from .layout import META_FILE, _missing_files, _some, load_synthetic_meta
from .parameters import FORMAT_VERSION, PRESETS, _check_number, resolve_params
from .replace import _check_replaceable, _replace_dir, _sibling
from .writer import _write_dataset

# 'svip_mm.datasets.synthetic_zsl', the name the generator logs under since it was one module
_log = logging.getLogger(__package__)


def _make_command(out_dir, params: Dict[str, Any]) -> str:
    """The ``tools/make_synthetic_zsl.py`` command line that writes the dataset of ``params``
    (a :func:`resolve_params` result) into ``out_dir``; for messages."""
    import shlex
    preset = params.get('preset', 'default')
    base = PRESETS.get(preset, PRESETS['default'])
    args = ['python', 'tools/make_synthetic_zsl.py', '--out', shlex.quote(str(out_dir))]
    if preset != 'default':
        args += ['--preset', shlex.quote(str(preset))]
    if params.get('seed', 0) != 0:
        args += ['--seed', str(params['seed'])]
    if params.get('image_size', 64) != 64:
        args += ['--image-size', str(params['image_size'])]
    if params.get('clutter', True) is False:
        args.append('--no-clutter')
    for key in sorted(base):
        if key in params and params[key] != base[key]:
            value = json.dumps(params[key], separators=(',', ':'))
            args += ['--set', shlex.quote(f'{key}={value}')]
    return ' '.join(args)


def generate_synthetic_zsl(out_dir, preset: str = 'default', seed: int = 0,
                           image_size: int = 64, clutter: bool = True, workers: int = 1,
                           **overrides) -> Path:
    """Generate the synthetic ZSL dataset into ``out_dir`` (always regenerating).

    The data is written into a temporary sibling directory and moved into place at the end, so
    ``out_dir`` never holds a half-written or mixed dataset. A new folder gets the permissions
    of the umask; a replaced one keeps its own. An existing ``out_dir`` is replaced only if it
    is empty or is itself a synthetic dataset (has :data:`META_FILE`) holding nothing but the
    generator's files; otherwise :class:`FileExistsError` names what is in the way, before
    anything is rendered. A symbolic link ``out_dir`` stays: the folder it points to is
    replaced.

    Args:
        out_dir: the dataset root to write.
        preset: ``'default'`` (40 classes, 2,560 images) or ``'large'``; see :data:`PRESETS`.
        seed: the random seed; equal parameters give byte-identical files.
        image_size: image side in pixels (square images).
        clutter: draw background distractors; False gives the clean variant of the same data.
        workers: processes used for rendering (does not change the output).
        **overrides: any key of the preset (e.g. ``images_per_class=8``, ``n_unseen=5``).

    Returns:
        ``out_dir`` as an absolute :class:`pathlib.Path`.
    """
    params = resolve_params(preset, seed, image_size, clutter, **overrides)
    out = Path(out_dir).expanduser().absolute()
    _generate(out, params, workers, keep_identical=False)
    return out


def _generate(out_dir: Path, params: Dict[str, Any], workers: int, keep_identical: bool) -> None:
    workers = _check_number('workers', workers, 1, 256, integer=True)
    if out_dir.is_symlink():
        out_dir = out_dir.resolve()  # replace the folder linked to, keep the link
    _check_replaceable(out_dir)  # before spending time on rendering
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # os.mkdir, not tempfile.mkdtemp: the folder becomes the dataset root and should get the
    # umask's permissions (mkdtemp makes it 0700).
    for _ in range(100):
        tmp = _sibling(out_dir, 'tmp')
        try:
            tmp.mkdir()
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(f'could not create a temporary folder next to {out_dir}')
    try:
        _write_dataset(tmp, params, workers)
        _replace_dir(tmp, out_dir, params, keep_identical)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _restore(out: Path, params: Dict[str, Any], missing: List[str], workers: int) -> None:
    """Re-render the ``missing`` files of the dataset at ``out`` in place (nothing else is
    touched); identical to the lost ones since generation is deterministic."""
    _log.warning('%s: %d file(s) of the synthetic dataset are missing (%s); writing them again '
                 'from the recorded parameters (generation is deterministic, so they are '
                 'identical to the lost ones)', out, len(missing), _some(missing))
    try:
        _write_dataset(out, params, _check_number('workers', workers, 1, 256, integer=True),
                       only=set(missing))
    except OSError as err:
        raise OSError(
            f'{out} misses {len(missing)} file(s) of its synthetic dataset ({_some(missing)}) '
            f'and writing them again failed: {err}. Restore them with: '
            f'{_make_command(out, params)} (it writes only the missing files)') from err
    still = _missing_files(out, params)
    if still:
        raise RuntimeError(f'{out}: {len(still)} file(s) of the synthetic dataset are still '
                           f'missing after restoring them: {_some(still)}')


def _check_request(out: Path, recorded: Any, requested: Dict[str, Any]) -> None:
    """Raise :class:`FileExistsError` if the dataset recorded at ``out`` is of another format
    version or differs from any ``requested`` parameter (the message lists name, recorded and
    requested value of each)."""
    if not isinstance(recorded, dict) or recorded.get('format_version') != FORMAT_VERSION:
        version = recorded.get('format_version') if isinstance(recorded, dict) else None
        try:
            redo = _make_command(out, resolve_params(**requested)) + ' --overwrite'
        except ValueError:
            redo = 'tools/make_synthetic_zsl.py --out DIR --overwrite with its parameters'
        raise FileExistsError(
            f'{out} holds a synthetic dataset of format version {version!r} ({META_FILE}); this '
            f'svip_mm writes version {FORMAT_VERSION} (the rendering or the layout changed), '
            "so it is not used. Nothing was changed. Replace the generator's files with: "
            f"{redo} (or pass on_mismatch='regenerate'); files the generator did not write "
            'are never deleted')
    base = {k: v for k, v in recorded.items() if k != 'format_version'}
    try:
        # the requested values normalised by resolve_params, the rest as recorded
        wanted = resolve_params(**dict(base, **requested))
    except ValueError:
        # not valid together with the recorded rest (e.g. another preset): a request that is
        # valid on its own still differs, and an invalid one raises here
        wanted = resolve_params(**requested)
    diff = [(k, recorded.get(k), wanted[k]) for k in sorted(requested)
            if wanted[k] != recorded.get(k)]
    if not diff:
        return
    lines = ''.join(f'\n  {k}: recorded {a!r}, requested {b!r}' for k, a, b in diff)
    raise FileExistsError(
        f'{out} holds a synthetic dataset generated with other parameters than requested '
        f'(recorded in {out / META_FILE}):{lines}\n'
        'Nothing was changed. To use the dataset as it is, leave these parameters out (the '
        'ones not given are read from the folder). To replace the generator\'s files with the '
        "requested dataset (parameters not given at their preset defaults), pass "
        f"on_mismatch='regenerate', or run: {_make_command(out, resolve_params(**requested))} "
        '--overwrite. Or choose another directory.')


def ensure_synthetic_zsl(out_dir, preset: Optional[str] = None, seed: Optional[int] = None,
                         image_size: Optional[int] = None, clutter: Optional[bool] = None,
                         workers: int = 1, on_mismatch: str = 'raise', **overrides) -> Path:
    """Return ``out_dir`` holding a synthetic dataset, generating it if the folder is absent.

    The generator's parameters (``preset``, ``seed``, ``image_size``, ``clutter`` and any
    preset key as an override) count as *given* when not None.

    * Absent or empty ``out_dir``: the dataset of the given parameters is generated, the others
      at the preset's defaults (``preset='default'``, ``seed=0``, ``image_size=64``,
      ``clutter=True``). A new folder gets the umask's permissions.
    * ``out_dir`` holds a synthetic dataset (:data:`META_FILE`), ``on_mismatch='raise'``
      (default): it is used as it is; parameters not given are whatever it records. If a given
      parameter differs from the recorded one, or the dataset is of another
      :data:`FORMAT_VERSION`, :class:`FileExistsError` lists each difference (name, recorded
      value, requested value) and how to proceed, and nothing is written.
    * ``on_mismatch='regenerate'`` (an explicit request): the folder must hold the dataset of
      the given parameters with the others at their preset defaults, so the result does not
      depend on what was there. A different one is replaced: the new dataset is written next
      to it and swapped in, and of the old one only the generator's files are deleted. If the
      folder holds anything the generator did not write (e.g. word vectors of its attribute
      names, a user's notes), it is not replaced: :class:`FileExistsError` names those files.
    * Files of the dataset that are missing (deleted images, masks or tables) are written again
      in place, byte-identical to the lost ones (generation is deterministic); nothing else in
      the folder is touched.
    * A non-empty directory without :data:`META_FILE` is never touched
      (:class:`FileExistsError`).

    Args:
        out_dir: the dataset folder.
        preset, seed, image_size, clutter: generator parameters as in
            :func:`generate_synthetic_zsl`; None = not given.
        **overrides: the other generator parameters, likewise.
        workers: rendering processes (does not change the output).
        on_mismatch: ``'raise'`` or ``'regenerate'``, see above.

    Raises:
        ValueError: an invalid parameter or ``on_mismatch``.
        FileExistsError: see above.
    """
    if on_mismatch not in ('regenerate', 'raise'):
        raise ValueError(f"on_mismatch={on_mismatch!r}: expected 'raise' (default: use the "
                         "folder's dataset, refuse other parameters) or 'regenerate'")
    requested = {k: v for k, v in dict(overrides, preset=preset, seed=seed,
                                       image_size=image_size, clutter=clutter).items()
                 if v is not None}
    out = Path(out_dir).expanduser().absolute()
    meta = load_synthetic_meta(out) if out.is_dir() else None
    if meta is None:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise FileExistsError(
                f'{out} exists, is not empty and holds no {META_FILE}; expected an empty or new '
                'directory (or one written by the synthetic generator)')
        _generate(out, resolve_params(**requested), workers, keep_identical=True)
        return out
    recorded = meta.get('params')
    if on_mismatch == 'regenerate':
        params = resolve_params(**requested)
        if recorded != params:
            _generate(out, params, workers, keep_identical=True)
            return out
    else:
        _check_request(out, recorded, requested)
        params = recorded
    missing = _missing_files(out, params)
    if missing:
        _restore(out, params, missing, workers)
    return out
