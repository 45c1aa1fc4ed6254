"""Streamlit UI building blocks shared by the pages: catalog, cached loaders, controls, uploads, views, exports.

UI only: drawing controls and returning choices, keeping per-session state. Compute lives in ``vtn_core``.
"""
