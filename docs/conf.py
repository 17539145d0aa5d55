"""Sphinx configuration of the svip_mm documentation site.

Build it with ``python tools/build_docs.py`` (or ``--quick``), not with ``sphinx-build docs``
directly: the tool executes the tutorials and stages them under ``tutorials/`` next to these
sources (see ``building_docs.md``). Every warning is an error there (``-W``).
"""
import svip_mm

project = 'svip_mm'
author = 'svip_mm contributors'
copyright = 'svip_mm contributors'
release = version = svip_mm.__version__

extensions = [
    'myst_nb',                 # MyST Markdown pages and executed notebooks
    'sphinx.ext.autodoc',      # the API reference from the docstrings
    'sphinx.ext.napoleon',     # Google-style Args: / Returns: as in mmpretrain
    'sphinx.ext.viewcode',
]

exclude_patterns = ['_build', '**/.ipynb_checkpoints', 'Thumbs.db', '.DS_Store']
source_suffix = {'.md': 'myst-nb', '.ipynb': 'myst-nb'}
root_doc = 'index'

# MyST
myst_enable_extensions = ['colon_fence', 'dollarmath', 'deflist']
myst_heading_anchors = 3  # README-style [text](#section) links within a page

# the notebooks are executed (and cached) by tools/build_docs.py before Sphinx runs;
# Sphinx only renders what they hold
nb_execution_mode = 'off'
nb_merge_streams = True

# autodoc + napoleon (Google style only)
autodoc_default_options = {
    'members': True,
    'show-inheritance': True,
    'member-order': 'bysource',
}
autodoc_typehints = 'signature'
# only svip_mm's own docstrings: an override without one (init_weights, forward of a base
# class) is left out rather than shown with MMEngine's / torch's text
autodoc_inherit_docstrings = False
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_include_init_with_doc = False
napoleon_use_rtype = False
# Cross-references: a broken {doc} / {ref} / Markdown link is a warning, hence an error under
# -W. Python references are checked (nitpicky) only where they name svip_mm by its full path:
# those must point to a documented public name. Other packages (torch, numpy, mmengine, ...)
# cannot be resolved offline (no intersphinx), and short names (:class:`GZSLMetric`) are left
# to resolve where they can.
nitpicky = True
nitpick_ignore_regex = [(r'py:.*', r'(?!svip_mm\b).*')]
nitpick_ignore = [
    # a return annotation of the exported compile_backbone; the class itself is not exported
    ('py:class', 'svip_mm.engine.fast_path.CompileState'),
]

# HTML
html_theme = 'furo'
html_title = f'svip_mm {release}'
html_static_path = []
html_show_sourcelink = False
