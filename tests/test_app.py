"""The Streamlit app through ``streamlit.testing.v1.AppTest``: every page renders, uploads (good and bad) are
handled with a specific ``st.error`` and never an exception, uploads are stored under generated names."""
from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_assets import build_assets
from tests.videos import make_video
from ui import uploads, widgets

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["pages/1_Compare.py", "pages/2_Ablation.py", "pages/3_Checkpoints.py"]
TIMEOUT = 180


@pytest.fixture(scope="module", autouse=True)
def app_env(tmp_path_factory):
    """Tiny bundled assets and a private result cache for every app test."""
    root = build_assets(tmp_path_factory.mktemp("assets"))
    saved = {key: os.environ.get(key) for key in ("VTN_ASSETS_DIR", "VTN_CACHE_DIR")}
    os.environ["VTN_ASSETS_DIR"] = str(root)
    os.environ["VTN_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield root
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def run_app(script: str = "app.py", **state) -> AppTest:
    at = AppTest.from_file(str(ROOT / script), default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def plain(text: str) -> str:
    """Markdown source with the app's backslash escapes removed."""
    return re.sub(r"\\(.)", r"\1", text)


def markdown_text(at: AppTest) -> str:
    return plain("\n".join(m.value for m in at.markdown) + "\n" + "\n".join(c.value for c in at.caption))


def video_bytes(tmp_path: Path, name: str = "clip.mp4", frames: int = 24) -> bytes:
    return make_video(tmp_path / name, frames, fps=12.0, height=48, width=64).read_bytes()


# ---- default renders ----------------------------------------------------------------------------------------------
def test_explore_opens_on_the_demo_with_results():
    at = run_app()
    assert_clean(at)
    text = markdown_text(at)
    assert "Prediction:" in text
    assert "demo_0_bouncing.mp4" in text
    assert len(at.get("plotly_chart")) >= 3  # top-k, attention strip, head grid
    assert [m.label for m in at.metric][:3] == ["Entropy", "Top-10% mass", "Peak at"]
    assert "On the event" in [m.label for m in at.metric]  # the demo's labels.csv gives the event span


@pytest.mark.parametrize("script", PAGES)
def test_every_page_renders(script):
    at = run_app(script)
    assert_clean(at)
    assert at.title and at.title[0].value


def test_pages_through_navigation():
    at = run_app()
    for script in PAGES:
        at.switch_page(script).run()
        assert_clean(at)


def test_compare_shows_agreement():
    at = run_app("pages/1_Compare.py")
    assert_clean(at)
    assert [m.label for m in at.metric] == ["Same top-1", "Top-5 overlap", "Top-2 frames shared", "Peak distance",
                                         "JS divergence"]
    assert at.metric[0].value == "Yes"  # the twins share their weights


def test_ablation_shows_curves_localization_and_what_if():
    at = run_app("pages/2_Ablation.py")
    assert_clean(at)
    headers = [h.value for h in at.subheader]
    assert any("Training" in h for h in headers) and any("Localization" in h for h in headers)
    assert any("What if" in h for h in headers)
    assert "with its learned attention" in markdown_text(at)


def test_explore_layer_head_and_uniform_what_if():
    at = run_app()
    at.sidebar.selectbox(key="explore_layer2").set_value(1)
    at.sidebar.selectbox(key="explore_head2").set_value(0)
    at.sidebar.radio(key="explore_attention").set_value("uniform")
    at.run()
    assert_clean(at)
    assert "uniform attention" in markdown_text(at)
    assert at.metric[0].value == "1.00"  # uniform attention has maximal entropy


def test_frame_slider_picks_a_frame():
    at = run_app()
    slider = next(s for s in at.select_slider if s.label == "Frame")
    slider.set_value(3).run()
    assert_clean(at)
    captions = [image.proto.imgs[0].caption for image in at.get("image")]
    frame = at.session_state["vtn_results"]  # the run's frame index of sample 3 is in the caption
    result = next(iter(frame.values()))
    assert any(c.startswith(f"Frame {result.frame_indices[3]} at {result.timestamps_s[3]:.2f} s") for c in captions)


# ---- uploads ------------------------------------------------------------------------------------------------------
def test_explore_upload_video(tmp_path):
    at = run_app()
    at.sidebar.selectbox(key="explore_video").set_value(widgets.UPLOAD_VIDEO).run()
    assert_clean(at)
    at.sidebar.file_uploader(key="explore_video_file").set_value(("../my holiday.mp4", video_bytes(tmp_path), "video/mp4"))
    at.run()
    assert_clean(at)
    assert "my holiday.mp4" in markdown_text(at)
    kept = list(at.session_state["vtn_uploads_video"].values())
    assert len(kept) == 1
    stored = kept[0].path
    assert stored.is_file() and stored.name.startswith("video-") and "holiday" not in stored.name
    assert stored.suffix == ".mp4"


def test_explore_bad_video_upload_shows_error(tmp_path):
    at = run_app()
    at.sidebar.selectbox(key="explore_video").set_value(widgets.UPLOAD_VIDEO).run()
    at.sidebar.file_uploader(key="explore_video_file").set_value(("broken.mp4", b"this is not a video" * 50, "video/mp4"))
    at.run()
    assert not at.exception
    assert at.error and "broken.mp4: not a readable video" in plain(at.error[0].value)
    assert not at.session_state["vtn_uploads_video"]  # refused uploads are not kept (and are deleted)


def test_explore_with_injected_video_path(tmp_path):
    path = make_video(tmp_path / "injected.mp4", 30, fps=10.0, height=48, width=64)
    at = run_app(vtn_video_override=str(path))
    assert_clean(at)
    assert "injected.mp4" in markdown_text(at)


def test_explore_with_injected_bad_video(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 2048)
    at = run_app(vtn_video_override=str(bad))
    assert not at.exception
    assert at.error and "video" in at.error[0].value.lower()


def test_checkpoints_bad_upload_shows_error():
    at = run_app("pages/3_Checkpoints.py")
    at.file_uploader(key="checkpoints_upload").set_value(("model.safetensors", b"\x00" * 300, "application/octet-stream"))
    at.run()
    assert not at.exception
    assert at.error and "model.safetensors: not a checkpoint" in plain(at.error[0].value)
    assert not at.session_state["vtn_uploads_checkpoint"]


def test_checkpoints_good_upload_is_listed(app_env):
    data = (app_env / "models" / "vtn_vit_learned.safetensors").read_bytes()
    at = run_app("pages/3_Checkpoints.py")
    at.file_uploader(key="checkpoints_upload").set_value(("mine.safetensors", data, "application/octet-stream"))
    at.run()
    assert_clean(at)
    assert at.success and "mine.safetensors" in plain(at.success[0].value)
    assert "uploaded" in at.dataframe[0].value["origin"].tolist()


def test_compare_bad_checkpoint_upload_shows_error():
    at = run_app("pages/1_Compare.py")
    at.sidebar.selectbox(key="compare_b").set_value(widgets.UPLOAD_CHECKPOINT).run()
    at.sidebar.file_uploader(key="compare_b_file").set_value(("evil.pyth", b"\x80\x04not really a pickle", "application/octet-stream"))
    at.run()
    assert not at.exception
    assert at.error and "evil.pyth: refused" in plain(at.error[0].value)


# ---- ui.uploads directly ------------------------------------------------------------------------------------------
def test_store_upload_uses_generated_names(tmp_path):
    stored = uploads.store_upload(io.BytesIO(b"abc"), "../../etc/passwd.mp4", tmp_path, "video", uploads.VIDEO_TYPES, 10)
    assert stored.path.parent == tmp_path and stored.path.name.startswith("video-") and stored.path.suffix == ".mp4"
    assert "passwd" not in stored.path.name and stored.display_name == "passwd.mp4"


@pytest.mark.parametrize("name", ["clip.exe", "clip", "clip.mp4.sh", "archive.tar.gz"])
def test_store_upload_refuses_other_types(tmp_path, name):
    with pytest.raises(uploads.UploadError, match="unsupported file type"):
        uploads.store_upload(b"abc", name, tmp_path, "video", uploads.VIDEO_TYPES, 10)
    assert not list(tmp_path.iterdir())


def test_store_upload_refuses_empty_and_oversize(tmp_path):
    with pytest.raises(uploads.UploadError, match="empty"):
        uploads.store_upload(io.BytesIO(b""), "a.mp4", tmp_path, "video", uploads.VIDEO_TYPES, 10)
    with pytest.raises(uploads.UploadError, match="limit"):
        uploads.store_upload(io.BytesIO(b"x" * 11), "a.mp4", tmp_path, "video", uploads.VIDEO_TYPES, 10)
    assert not list(tmp_path.iterdir())


def test_accept_video_validates_and_cleans_up(tmp_path):
    good = uploads.accept_video(video_bytes(tmp_path, "src.mp4"), "ok.MP4", tmp_path / "session")
    assert good.path.is_file() and good.path.suffix == ".mp4"
    with pytest.raises(Exception) as info:
        uploads.accept_video(b"garbage" * 100, "bad clip.webm", tmp_path / "session")
    assert "bad clip.webm" in str(info.value) and "video-" not in str(info.value)
    assert [p.name for p in (tmp_path / "session").iterdir()] == [good.path.name]


def test_render_attention_video_on_demand():
    at = run_app()
    assert not at.get("video") or len(at.get("video")) == 1  # only the player until the button is pressed
    next(b for b in at.button if b.label.startswith("Render video")).click().run()
    assert_clean(at)
    rendered = list(at.session_state["vtn_rendered_videos"].values())
    assert len(rendered) == 1 and Path(rendered[0]).is_file() and Path(rendered[0]).stat().st_size > 0
    assert len(at.get("video")) == 2  # the player and the rendered export
    assert any(d.label == "Download mp4" for d in at.get("download_button"))


@pytest.mark.parametrize("script", ["app.py"] + PAGES)
def test_pages_without_bundled_assets(script, tmp_path, monkeypatch):
    monkeypatch.setenv("VTN_ASSETS_DIR", str(tmp_path / "nothing"))
    at = run_app(script)
    assert_clean(at)
    assert at.info  # guidance instead of results
