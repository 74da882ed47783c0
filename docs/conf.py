"""Sphinx configuration for sio-ray."""

project = 'sio-ray'
author = 'sio-ray developers'
extensions = ['sphinx.ext.autodoc', 'sphinx.ext.viewcode']
autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
nitpicky = False
exclude_patterns = ['_build']
html_theme = 'alabaster'
