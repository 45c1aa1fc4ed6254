"""The app's explanation views through AppTest: saliency of the picked frame, faithfulness curves, the twins."""
from __future__ import annotations

from tests.test_app import app_env, assert_clean, markdown_text, run_app  # noqa: F401  (app_env: autouse fixture)

READINGS = ("Yes:", "No:", "Partly:", "Removing frames barely")


def test_explore_shows_the_picked_frames_saliency_and_the_faithfulness_curves():
    at = run_app()
    assert_clean(at)
    headers = [h.value for h in at.subheader]
    assert "Which part of the frame?" in headers and "Does the model rely on these frames?" in headers
    methods = at.selectbox(key="explore_saliency_method")
    assert list(methods.options) == ["Grad-CAM++ (video-level logit)", "Grad-CAM (video-level logit)",
                                     "Attention rollout (ViT backbone)"]  # the tiny demo model is a ViT
    images = len(at.get("image"))
    assert images >= 2  # the picked frame and its overlay
    labels = [m.label for m in at.metric]
    assert "Deletion AUC · attention" in labels and "Insertion AUC · attention" in labels
    assert any(reading in markdown_text(at) for reading in READINGS)
    downloads = [d.label for d in at.get("download_button")]
    assert {"Saliency map (PNG)", "Curves CSV", "Curves JSON"} <= set(downloads)
    at.toggle(key="explore_saliency_show").set_value(False).run()
    assert_clean(at)
    assert len(at.get("image")) == images - 1
    at.toggle(key="explore_saliency_show").set_value(True).run()
    at.checkbox(key="explore_saliency_top").check().run()
    methods = at.selectbox(key="explore_saliency_method")
    methods.set_value("rollout").run()
    assert_clean(at)
    assert len(at.get("image")) > images  # the top-K frames' maps too


def test_ablation_draws_the_curves_for_both_twins():
    at = run_app("pages/2_Ablation.py")
    assert_clean(at)
    assert any("rely on the frames it attends to" in h.value for h in at.subheader)
    assert [m.label for m in at.metric].count("Deletion AUC · attention") == 2
