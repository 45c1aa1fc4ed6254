"""Unit-level proofs of the defences in docs/SECURITY.md that the CLI-level hostile suite cannot see
directly: structural format detection, escaping per sink, strict JSON, thumbnail width, cache labels."""
from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from tests.official_files import tiny_vit_config
from tests.videos import make_video
from vtn_core import json_safe, limits, plots, safe_text
from vtn_core.cache import ResultCache
from vtn_core.checkpoint import detect_format, load_checkpoint, save_checkpoint
from vtn_core.export import figures_html
from vtn_core.inference import _skip_notices, run_video
from vtn_core.model import VTN, estimate_parameters
from vtn_core.video.preprocess import make_thumbnails


def test_safetensors_header_lengths_are_never_read_as_pickle(tmp_path):
    """Every header length from 8 to 2,048 bytes (so every low byte, 0x80 included, with high bytes 2..5 that
    also make a pickle PROTO opcode) is detected as safetensors."""
    seen_low_0x80 = 0
    for pad in range(2048 - 60):
        path = tmp_path / "t.safetensors"
        save_file({"x": torch.zeros(1)}, str(path), metadata={"p": "a" * pad})
        length = int.from_bytes(path.read_bytes()[:8], "little")
        seen_low_0x80 += length & 0xFF == 0x80
        assert detect_format(path) == "native", (pad, length)
    assert seen_low_0x80 >= 4


def test_every_checkpoint_save_checkpoint_writes_loads_back(tmp_path):
    """The tiny model saved with metadata of growing length: header lengths cover all 32 residues mod 256
    (safetensors pads to 8); every file is detected as safetensors, and those whose length byte is 0x80 (and
    every fourth other one) load back with the same weights."""
    torch.manual_seed(0)
    model = VTN(tiny_vit_config(num_classes=3), class_names=["a", "b", "c"]).eval()
    residues = set()
    for pad in range(0, 264, 8):
        path = save_checkpoint(model, tmp_path / f"m{pad}.safetensors", note="x" * pad)
        low = int.from_bytes(path.read_bytes()[:8], "little") & 0xFF
        residues.add(low)
        assert detect_format(path) == "native"
        if low == 0x80 or pad % 32 == 0:
            again = load_checkpoint(path, device="cpu")
            assert torch.equal(again.cls_token, model.cls_token)
    assert 0x80 in residues and len(residues) == 32


def test_parameter_estimate_is_exact_and_allocates_nothing():
    config = tiny_vit_config(num_classes=7)
    assert estimate_parameters(config) == VTN(config).num_parameters()


@pytest.mark.parametrize("text", ["\x1b]0;title\x07", "\x1b[2J", "a\rb", "\u202eevil", "\x9b1m", "\udc80", "\x00"])
def test_terminal_escaping_shows_controls_visibly(text):
    shown = safe_text.terminal(text)
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or c in "\u202e" or 0xD800 <= ord(c) <= 0xDFFF for c in shown)
    assert "\\" in shown
    shown.encode("utf-8")  # printable on any UTF-8 terminal


def test_markdown_escaping_neutralises_links_images_html_and_icons():
    hostile = "![x](http://evil.example/p.png) [a](javascript:alert(1)) <img src=x> **b** :material/home: $x$"
    shown = safe_text.markdown(hostile, None)
    for raw in ("![", "](", "**", ":material", "$x"):
        assert re.search(r"(?<!\\)" + re.escape(raw), shown) is None, raw
    assert re.search(r"(?<!\\)<", shown) is None  # every '<' escaped
    assert "http://" not in shown and "www." not in safe_text.markdown("see www.evil.example")
    assert len(safe_text.markdown("n" * 500)) <= limits.MAX_DISPLAY_CHARS * 2


def test_plotly_labels_and_html_export_carry_no_markup(tmp_path):
    label = '<a href="http://evil.example/">x</a><span style="background:url(http://evil.example/i)">y</span>'
    figure = plots.top_k_bars([label, "ok"], [0.6, 0.4])
    assert all("<a" not in y and "<span" not in y for y in figure.data[0].y)
    page = figures_html({label: figure}, title=label, note=label)
    assert '<a href="http://evil.example/">' not in page and "<span style" not in page
    assert "&lt;a href=&quot;http://evil.example/&quot;&gt;" in page  # shown as text in the headings
    changes = plots.prediction_change_bars([{"class": label, "before": 0.5, "after": 0.4}])
    assert "<a" not in changes.data[0].x[0]


def test_json_is_always_valid_with_a_notice():
    text, count = json_safe.dumps({"p": [1.0, float("nan")], "q": float("-inf"), "r": np.float32("inf")})
    assert count == 3

    def refuse(token):
        raise ValueError(f"invalid JSON token {token}")

    document = json.loads(text, parse_constant=refuse)
    assert document["p"] == [1.0, None] and document["notices"]


def test_thumbnails_of_extreme_aspect_ratios_stay_narrow():
    wide = np.zeros((2, 1, 8000, 3), np.uint8)
    thumbs = make_thumbnails(wide, 96)
    assert thumbs.shape[1] == 96 and thumbs.shape[2] <= limits.MAX_THUMBNAIL_ASPECT * 96
    assert make_thumbnails(np.zeros((1, 8000, 1, 3), np.uint8), 96).shape[2] == 1


def test_run_on_a_wide_video_keeps_thumbnails_within_the_cap(tmp_path):
    video = make_video(tmp_path / "wide.mkv", 6, height=32, width=1024, codec="ffv1", pixel_format="yuv444p")
    model = VTN(tiny_vit_config(num_classes=3)).eval()
    result = run_video(model, video, num_frames=4, cache=False)
    assert result.thumbnails.shape[2] <= limits.MAX_THUMBNAIL_ASPECT * result.thumbnails.shape[1]


def test_cache_hit_is_labelled_with_this_runs_paths(tmp_path):
    torch.manual_seed(0)
    model = VTN(tiny_vit_config(num_classes=3)).eval()
    first = save_checkpoint(model, tmp_path / "first.safetensors")
    second = tmp_path / "second.safetensors"
    shutil.copyfile(first, second)
    video = make_video(tmp_path / "one.mp4", 8)
    copy = tmp_path / "other-name.mp4"
    shutil.copyfile(video, copy)
    cache = ResultCache(tmp_path / "cache")
    run_video(load_checkpoint(first, device="cpu"), video, num_frames=4, cache=cache)
    hit = run_video(load_checkpoint(second, device="cpu"), copy, num_frames=4, cache=cache)
    assert hit.from_cache
    assert hit.video["path"] == str(copy) and hit.video["name"] == "other-name.mp4"
    assert hit.checkpoint["path"] == str(second) and hit.checkpoint["name"] == "second.safetensors"


def test_skip_notice_says_undecodable_only_when_the_decoder_failed():
    assert _skip_notices(0, 0) == []
    assert "undecodable" in _skip_notices(3, 2)[0]
    assert "undecodable" not in _skip_notices(3, 0)[0]


def test_closed_sessions_are_released_when_their_reconnect_window_ends():
    """Streamlit's own session storage: an expired session is shut down and its memory freed without waiting
    for another connection."""
    import gc
    import threading
    import time
    import weakref
    from types import SimpleNamespace

    from streamlit.runtime.memory_session_storage import MemorySessionStorage

    from ui.state import reap_expired_sessions

    class Session:
        def __init__(self, name):
            self.id, self.closed, self.results = name, False, np.ones(1_000_000)

        def shutdown(self):
            self.closed = True

    storage = MemorySessionStorage(ttl_seconds=120)  # Streamlit's default reconnect window
    kept = MemorySessionStorage(ttl_seconds=3600)
    session, other = Session("gone"), Session("kept")
    storage.save(SimpleNamespace(session=session, client=None, script_run_count=1))
    kept.save(SimpleNamespace(session=other, client=None, script_run_count=1))
    probe = weakref.ref(session)
    closed = []
    session.shutdown = lambda: closed.append(True)
    del session
    storage._cache._timer = lambda: time.monotonic() + 121  # the window has passed; nobody has connected since
    manager = SimpleNamespace(_session_storage=storage, _storage_lock=threading.Lock())
    assert reap_expired_sessions(manager) == 1 and closed == [True]
    gc.collect()
    assert probe() is None  # nothing holds the closed session's results any more
    assert reap_expired_sessions(SimpleNamespace(_session_storage=kept, _storage_lock=threading.Lock())) == 0
    assert kept.get("kept") is not None
