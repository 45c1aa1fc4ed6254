"""VTN Attention Explorer — Explore page (placeholder until the app issue lands: loads the bundled model)."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

import vtn_core

ASSETS = Path(__file__).parent / "assets"


@st.cache_resource(show_spinner="Loading model…")
def load_model(path: str) -> vtn_core.VTN:
    return vtn_core.load_checkpoint(path, device="auto")


def main() -> None:
    st.set_page_config(page_title="VTN Attention Explorer", layout="wide")
    st.title("VTN Attention Explorer")
    checkpoints = sorted((ASSETS / "models").glob("*.safetensors")) if (ASSETS / "models").is_dir() else []
    if not checkpoints:
        st.info("No bundled model yet: train one with `python -m vtn_core train`.")
        return
    try:
        model = load_model(str(checkpoints[0]))
    except vtn_core.VTNError as exc:
        st.error(str(exc))
        return
    st.success(f"Loaded {checkpoints[0].name}: {model.config.backbone}, {len(model.class_names)} classes, "
               f"{model.num_parameters() / 1e6:.1f} M parameters, {model.attention_mode} attention.")


main()
