"""Presentation mode: the best demo clip chosen from data, the three-sentence story, developer chrome hidden
(`vtn-explorer app --present` runs Streamlit with client.toolbarMode=viewer)."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.app_assets import build_assets
from tests.test_compare import make_result
from vtn_core.cli import main
from vtn_core.commands.app import config_flags, streamlit_command
from vtn_core.showcase import ClipScore, best_clip, score_clip

ROOT = Path(__file__).resolve().parent.parent


def test_best_clip_prefers_correct_clips_then_localization():
    scores = [ClipScore("a.mp4", 0.99, 0.1, 0.4, correct=False), ClipScore("b.mp4", 0.60, 0.1, 0.9, correct=True),
              ClipScore("c.mp4", 0.85, 0.2, 0.5, correct=True), ClipScore("d.mp4", 0.85, 0.1, 0.5, correct=True)]
    assert best_clip(scores).name == "d.mp4"  # same localization as c, but 8.5x uniform instead of 4.25x
    assert best_clip(scores[:2]).name == "b.mp4"
    assert best_clip([]) is None


def test_score_clip_measures_first_layer_attention_on_the_event():
    times = np.arange(8) / 4
    weights = np.array([0.0, 0.0, 0.1, 0.6, 0.2, 0.1, 0.0, 0.0])
    result = make_result(weights, times, [0.7, 0.2, 0.1])
    score = score_clip("x.mp4", result, (3, 4), "a")
    assert score.localization == pytest.approx(0.8) and score.event_fraction == pytest.approx(0.25)
    assert score.correct and score.confidence == pytest.approx(0.7) and score.ratio == pytest.approx(3.2)
    assert not score_clip("x.mp4", result, (3, 4), "b").correct


def test_present_command_hides_the_toolbar_and_keeps_the_app_config(tmp_path):
    config = tmp_path / ".streamlit" / "config.toml"
    config.parent.mkdir()
    config.write_text('[server]\nmaxUploadSize = 2048\nheadless = true\n[theme]\nprimaryColor = "#d6336c"\n')
    assert config_flags(config) == ["--server.maxUploadSize", "2048", "--server.headless", "true",
                                    "--theme.primaryColor", "#d6336c"]
    (tmp_path / "app.py").write_text("")
    command = streamlit_command(tmp_path, True, 9000, "127.0.0.1", ["--", "--server.runOnSave", "false"])
    assert command[1:5] == ["-m", "streamlit", "run", str(tmp_path / "app.py")]
    joined = " ".join(command)
    assert "--client.toolbarMode viewer" in joined and "--server.port 9000" in joined
    assert "--server.address 127.0.0.1" in joined and joined.endswith("--server.runOnSave false")
    assert "toolbarMode" not in " ".join(streamlit_command(tmp_path, False, 9000, None, []))


def test_app_command_refuses_a_bad_port(capsys):
    assert main(["app", "--port", "70000"], prog="vtn-explorer") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --port") and len(err.splitlines()) == 1
    with pytest.raises(SystemExit) as stopped:
        main(["app", "--port", "eighty"], prog="vtn-explorer")
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and err.startswith("error: ") and "vtn-explorer app --help" in err


def test_run_app_script_routes_present_to_the_command():
    script = (ROOT / "scripts" / "run_app.sh").read_text()
    assert "--present" in script and "vtn_core app" in script


def expected_best(assets: Path) -> str:
    """The best clip computed here, independently of the app: run the first bundled (learned) model on each
    demo clip with an event, score localization, pick the best."""
    import vtn_core
    from vtn_core.inference import run_video
    from vtn_core.video import probe_video

    model = vtn_core.load_checkpoint(sorted((assets / "models").glob("*learned*.safetensors"))[0], device="cpu")
    scores = []
    with open(assets / "demo_videos" / "labels.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            path = assets / "demo_videos" / row["path"]
            frames = min(model.config.eval_num_frames, probe_video(path).num_frames)
            result = run_video(model, path, num_frames=frames, cache=False)
            scores.append(score_clip(path.name, result, (int(row["event_start"]), int(row["event_end"])), row["label"]))
    return best_clip(scores).name


def test_presentation_opens_on_the_best_clip_with_the_story(tmp_path, monkeypatch):
    assets = build_assets(tmp_path / "assets")
    best = expected_best(assets)
    labels = assets / "demo_videos" / "labels.csv"
    rows = list(csv.DictReader(open(labels, newline="")))
    rows.sort(key=lambda row: row["path"] == best)  # the best clip listed last: the default would be another
    with open(labels, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    monkeypatch.setenv("VTN_ASSETS_DIR", str(assets))
    monkeypatch.setenv("VTN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("VTN_PRESENT", "1")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.exception] + [e.value for e in at.error]
    assert at.sidebar.toggle[0].label == "Presentation mode" and at.sidebar.toggle[0].value is True
    assert at.selectbox(key="explore_video").value == best
    story = [box.value for box in at.info]
    assert len(story) == 1
    sentences = [s for s in story[0].replace("\\", "").split(". ") if s.strip()]
    assert len(sentences) == 3, sentences
    assert "Video Transformer Network" in sentences[0] and "strip" in sentences[1] and "twin" in sentences[2]
    assert "validation accuracy" in sentences[2]  # the twins' recorded histories, not a fixed claim

    at.sidebar.toggle[0].set_value(False).run()  # the toggle switches the story off
    assert not at.info and not at.exception
