"""Views of traces: the terminal (rich), the self-contained HTML viewer, and Jupyter.

The HTML viewer's source ships as plain files in views/static/, inlined by html.py.
"""
