"""The documentation site, built as CI builds it (``tools/build_docs.py --quick``) and read as
a reader would: the tutorial 2 page in headless Chromium (its figures loaded), the API pages
(every component svip_mm registers, under its public import path), and builds that must fail
(a broken link, a notebook cell that raises).

The site is built once per module into a temporary folder (about 1.5 min on 2 cores, most of
it executing the four shrunk tutorials). Chromium and its driver are Debian's packages
(``/usr/bin/chromium``, ``/usr/bin/chromedriver``), installed with apt-get when absent.
"""
import functools
import http.server
import importlib
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from repo import REPO

BUILD = REPO / 'tools' / 'build_docs.py'
CHROMIUM = Path('/usr/bin/chromium')
CHROMEDRIVER = Path('/usr/bin/chromedriver')
TUTORIAL_2 = 'tutorials/02_attention_visualisation.html'
# the figures tutorial 2 draws: attention maps, selection, attribute localisation, summary,
# per-layer AUROC
TUTORIAL_2_FIGURES = 5


def build(*args, timeout=1200) -> subprocess.CompletedProcess:
    """Run tools/build_docs.py with ``args``; its stdout and stderr merged in ``.stdout``."""
    return subprocess.run([sys.executable, str(BUILD), *map(str, args)], cwd=str(REPO),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)


@pytest.fixture(scope='module')
def site(tmp_path_factory) -> Path:
    """The quick site: its build folder (``html/`` and the notebook cache inside)."""
    out = tmp_path_factory.mktemp('docs_site')
    proc = build('--quick', '--out', out)
    assert proc.returncode == 0, f'the quick docs build failed:\n{proc.stdout[-6000:]}'
    assert (out / 'html' / 'index.html').is_file()
    return out


@pytest.fixture(scope='module')
def server(site):
    """The built html served over http on localhost (as a browser sees a site, not file://)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(site / 'html'))
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}'
    httpd.shutdown()
    httpd.server_close()


def ensure_chromium():
    """Install Debian's chromium and chromium-driver when either is missing; fail (never
    skip) with apt's output when that does not give both."""
    if CHROMIUM.is_file() and CHROMEDRIVER.is_file():
        return
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    install = ['apt-get', 'install', '-y', '-q', 'chromium', 'chromium-driver']
    log = ''
    for cmd in (install, ['apt-get', 'update', '-q'], install):
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as error:
            log += f'$ {" ".join(cmd)}\n{error}\n'
            continue
        log += f'$ {" ".join(cmd)}\n{proc.stdout[-1500:]}{proc.stderr[-1500:]}\n'
        if CHROMIUM.is_file() and CHROMEDRIVER.is_file():
            return
    pytest.fail(f'headless Chromium is needed to check the docs site, and installing it failed '
                f'({CHROMIUM}, {CHROMEDRIVER}; run as root: apt-get install -y chromium '
                f'chromium-driver):\n{log}')


@pytest.fixture(scope='module')
def browser(tmp_path_factory):
    ensure_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
                 '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--window-size=1280,2400',
                 f'--user-data-dir={tmp_path_factory.mktemp("chromium_profile")}'):
        options.add_argument(flag)
    # the driver is given, so selenium does not look for (or download) one
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(120)
    yield driver
    driver.quit()


def open_page(browser, url: str):
    browser.get(url)
    browser.execute_script('window.scrollTo(0, document.body.scrollHeight)')  # lazy content
    state = browser.execute_script('return document.readyState')
    assert state == 'complete', (url, state)


# --------------------------------------------------------------------------- read as a reader
def test_tutorial_page_shows_its_figures(site, server, browser, tmp_path):
    open_page(browser, f'{server}/{TUTORIAL_2}')
    assert 'Tutorial 2' in browser.title
    shot = tmp_path / 'tutorial_02.png'
    assert browser.save_screenshot(str(shot))
    data = shot.read_bytes()
    assert len(data) > 1000 and data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG screenshot'

    # wait until every image has finished loading or failed
    browser.set_script_timeout(60)
    images = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const imgs = Array.from(document.images);
        Promise.all(imgs.map(i => i.complete ? null : new Promise(r => {
            i.addEventListener('load', r); i.addEventListener('error', r); })))
          .then(() => done(imgs.map(i => ({src: i.src, w: i.naturalWidth, h: i.naturalHeight,
                                            output: !!i.closest('.cell_output')}))));
    """)
    assert images, 'the tutorial 2 page shows no image'
    broken = [i['src'] for i in images if not (i['w'] > 0 and i['h'] > 0)]
    assert not broken, f'images that did not load: {broken}'
    figures = [i for i in images if i['output']]
    assert len(figures) >= TUTORIAL_2_FIGURES, \
        f'{len(figures)} notebook figures on the page, expected {TUTORIAL_2_FIGURES}'


def test_api_page_lists_svip_classifier(server, browser):
    open_page(browser, f'{server}/api/models.html')
    from selenium.webdriver.common.by import By
    entry = browser.find_element(By.ID, 'svip_mm.models.classifiers.SVIPClassifier')
    assert 'SVIPClassifier' in entry.text
    assert 'SVIPClassifier' in browser.find_element(By.TAG_NAME, 'body').text


# --------------------------------------------------------------------------- the API pages
def api_anchors(site: Path) -> set:
    """The ids of every documented object and module on the built API pages."""
    anchors = set()
    for page in (site / 'html' / 'api').glob('*.html'):
        anchors.update(re.findall(r'\bid="((?:module-)?svip_mm[\w.]*)"', page.read_text()))
    return anchors


def registered_components() -> dict:
    """``{(registry name, registered name): object}`` of everything svip_mm registers in
    mmpretrain's (or MMEngine's) registries, found by looking through the registries."""
    import mmengine.registry
    import mmpretrain.registry
    from mmengine.registry import Registry

    import svip_mm  # noqa: F401  (registers)
    found = {}
    registries = {id(r): r for module in (mmpretrain.registry, mmengine.registry)
                  for r in vars(module).values() if isinstance(r, Registry)}
    for registry in registries.values():
        for name, obj in registry.module_dict.items():
            if getattr(obj, '__module__', '').startswith('svip_mm'):
                found[(registry.name, name)] = obj
    return found


def test_every_registered_component_is_on_the_api_pages_by_public_path(site):
    anchors = api_anchors(site)
    components = registered_components()
    assert len(components) >= 25 and ('model', 'SVIPClassifier') in components
    missing = []
    for (registry, name), obj in sorted(components.items()):
        # documented as <package>.<name>, where the package exports that very object
        paths = [a for a in anchors if a.rsplit('.', 1)[-1] == name and a.count('.') >= 2]
        public = [p for p in paths
                  if hasattr(importlib.import_module(p.rsplit('.', 1)[0]), '__path__')
                  and getattr(importlib.import_module(p.rsplit('.', 1)[0]), name, None) is obj]
        if not public:
            missing.append(f'{registry}: {name} ({obj.__module__}; on the pages as {paths})')
    assert not missing, ('registered but not on the API pages under a public import path '
                         '(add its subpackage to docs/api/ or export it):\n' + '\n'.join(missing))


def test_every_exported_class_and_function_is_documented(site):
    """Each subpackage that exports names (``__all__``) has its section, with every exported
    class and function in it."""
    import pkgutil

    import svip_mm
    anchors = api_anchors(site)
    missing = []
    for info in pkgutil.walk_packages(svip_mm.__path__, 'svip_mm.'):
        if not info.ispkg:
            continue
        module = importlib.import_module(info.name)
        exported = getattr(module, '__all__', None)
        if not exported:
            continue
        if f'module-{info.name}' not in anchors:
            missing.append(f'{info.name} (no section)')
            continue
        for name in exported:
            obj = getattr(module, name)
            if (isinstance(obj, type) or callable(obj)) and f'{info.name}.{name}' not in anchors:
                missing.append(f'{info.name}.{name}')
    assert not missing, 'exported but not documented:\n' + '\n'.join(missing)


# --------------------------------------------------------------------------- builds that fail
def test_a_broken_link_fails_the_build(site, tmp_path):
    """A Markdown link to a page that does not exist is a warning, so an error (-W); the
    notebooks come from the site's cache, so only Sphinx runs."""
    docs = tmp_path / 'docs'
    shutil.copytree(REPO / 'docs', docs, ignore=shutil.ignore_patterns('_build'))
    with open(docs / 'calibration.md', 'a') as f:
        f.write('\nSee [a page that is not there](no_such_page.md).\n')
    proc = build('--quick', '--out', tmp_path / 'out', '--docs-dir', docs,
                 '--cache-dir', site / 'notebook_cache')
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert 'cached (quick)' in proc.stdout  # the notebooks were not executed again
    assert 'no_such_page' in proc.stdout, proc.stdout[-3000:]


def test_a_notebook_error_fails_the_build(tmp_path):
    import nbformat
    tutorials = tmp_path / 'tutorials'
    tutorials.mkdir()
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell('# A tutorial that fails'),
        nbformat.v4.new_code_cell('repo_root = ".."', metadata=dict(tags=['parameters'])),
        nbformat.v4.new_code_cell('raise RuntimeError("deliberate failure in a cell")'),
    ])
    nb.metadata.kernelspec = dict(name='python3', display_name='Python 3', language='python')
    nbformat.write(nb, tutorials / '01_quick_start.ipynb')
    out = tmp_path / 'out'
    proc = build('--quick', '--out', out, '--tutorials-dir', tutorials, timeout=300)
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert 'deliberate failure in a cell' in proc.stdout, proc.stdout[-3000:]
    assert '01_quick_start.ipynb failed to execute' in proc.stdout
    assert not (out / 'html' / 'index.html').exists()  # Sphinx never ran
