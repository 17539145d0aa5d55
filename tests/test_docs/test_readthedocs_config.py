""".readthedocs.yaml builds the site with the repository's own tool, into the folder Read the
Docs serves (``$READTHEDOCS_OUTPUT/html``), from the repository's own requirements."""
import shlex

import yaml

from repo import REPO, load_tool


def _config():
    return yaml.safe_load((REPO / '.readthedocs.yaml').read_text())


def test_the_build_installs_from_the_repository_and_runs_build_docs(tmp_path):
    cfg = _config()
    assert cfg['version'] == 2 and cfg['build']['tools']['python'] == '3.11'
    install, build = cfg['build']['commands']
    words = shlex.split(install)
    for req in ('requirements.txt', 'requirements-docs.txt'):
        assert req in words and (REPO / req).is_file()
    assert words[-2:] == ['-e', '.']
    words = shlex.split(build)
    assert words[:2] == ['python', 'tools/build_docs.py']
    # the tool accepts these arguments and builds into OUT/html, which Read the Docs serves
    tool = load_tool('build_docs')
    args = tool.parse_args([w.replace('$READTHEDOCS_OUTPUT', str(tmp_path)) for w in words[2:]])
    assert args.quick and args.out == tmp_path
    assert '"$READTHEDOCS_OUTPUT"' in build  # quoted: a path with spaces stays one argument
