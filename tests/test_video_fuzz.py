"""Fuzz: malformed videos derived from real ones either work or raise VideoError, quickly, in bounded memory.

Each case runs in one of two long-lived worker processes (so a hang or a crash is caught and reported, and
cannot block the run): probe_video, sample_indices, then reading a few frames (FrameReader, alternating
strategies) and one pass of iter_chunks with a background thread. Any exception other than VideoError, a
case over ``CASE_SECONDS``, a worker crash or a worker's peak RSS growing more than ``RSS_LIMIT_MB`` fails.
"""
from __future__ import annotations

import json
import os
import select
import struct
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.videos import make_video

SEED = 20240611
NUM_CASES = 240
CASE_SECONDS = 20.0  # generous: 2 shared cores; a healthy case takes ~0.05 s
RSS_LIMIT_MB = 1500
ROOT = Path(__file__).resolve().parents[1]

WORKER = r"""
import json, resource, sys, time
import av
av.logging.set_level(av.logging.PANIC)
import numpy as np
from vtn_core.config import Preprocessing
from vtn_core.errors import VideoError
from vtn_core.video import FrameReader, iter_chunks, probe_video, sample_indices

def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

prep = Preprocessing(resize_short_side=16, crop_size=16)
baseline = rss_mb()
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    case = json.loads(line)
    start = time.perf_counter()
    outcome, detail = "ok", ""
    try:
        info = probe_video(case["path"])
        sample = sample_indices(info, num_frames=5)
        strategy = ("auto", "seek", "sequential")[case["i"] % 3]
        reader = FrameReader(case["path"], sample.indices, info, strategy)
        frames = [image for _, image, _ in reader]
        assert len(frames) == 5 and all(f.ndim == 3 and f.shape[2] == 3 for f in frames), "bad frames"
        chunks = list(iter_chunks(case["path"], sample.indices, prep, 2, info=info, prefetch=1))
        assert sum(c.pixels.shape[0] for c in chunks) == 5, "bad chunks"
    except VideoError as exc:
        outcome, detail = "video_error", str(exc)
    except BaseException as exc:
        outcome, detail = "other", f"{type(exc).__name__}: {exc}"[:300]
    print(json.dumps({"outcome": outcome, "detail": detail, "seconds": time.perf_counter() - start,
                      "rss_growth_mb": rss_mb() - baseline}), flush=True)
"""


# ---- malformed inputs ------------------------------------------------------------------------------------
def _bases(directory: Path) -> dict[str, bytes]:
    """Small real videos in every container the app accepts (+ mjpeg and raw-video avi, raw y4m)."""
    made = {
        "mp4": make_video(directory / "b.mp4", 12, gop=4),
        "mov": make_video(directory / "b.mov", 8),
        "mkv": make_video(directory / "b.mkv", 10, gop=3),
        "avi": make_video(directory / "b.avi", 10),
        "webm": make_video(directory / "b.webm", 8),
        "gif": make_video(directory / "b.gif", 6),
        "mjpeg.avi": make_video(directory / "b_mjpeg.avi", 8, codec="mjpeg", pixel_format="yuvj420p"),
        "raw.avi": make_video(directory / "b_raw.avi", 3, codec="rawvideo", pixel_format="bgr24"),
    }
    bases = {name: path.read_bytes() for name, path in made.items()}
    frame = np.full(64 * 48 * 3 // 2, 128, np.uint8).tobytes()
    bases["y4m"] = b"YUV4MPEG2 W64 H48 F25:1 Ip A1:1 C420jpeg\n" + b"".join(b"FRAME\n" + frame for _ in range(4))
    return bases


def _suffix(name: str) -> str:
    return "." + name.split(".")[-1]


def _huge(name: str, data: bytes, rng: np.random.Generator) -> bytes:
    """Declare an enormous frame size where the container (not the bitstream) states it."""
    data = bytearray(data)
    side = int(rng.choice([16385, 20000, 40000, 65535, 9000]))
    if name == "y4m":
        return data.replace(b"W64 H48", f"W{side} H{side}".encode(), 1)
    if name.endswith("avi"):
        for tag, offset, fmt in ((b"strf", 12, "<ii"), (b"avih", 40, "<II")):
            at = data.find(tag)
            if at >= 0:
                struct.pack_into(fmt, data, at + offset, side, side)
        return bytes(data)
    if name in ("mp4", "mov"):
        at = data.find(b"avc1")
        if at >= 0:
            struct.pack_into(">HH", data, at + 28, side % 65536, side % 65536)
        return bytes(data)
    if name == "gif":  # logical screen + first image descriptor
        struct.pack_into("<HH", data, 6, side % 65536, side % 65536)
        at = data.find(b"\x2c")
        if at >= 0:
            struct.pack_into("<HH", data, at + 5, side % 65536, side % 65536)
        return bytes(data)
    return bytes(data)


def make_cases(directory: Path) -> list[Path]:
    """``NUM_CASES`` malformed files, seeded, cycling through mutation kinds and base videos."""
    rng = np.random.default_rng(SEED)
    bases = _bases(directory)
    names = sorted(bases)
    kinds = ["truncate", "flip", "flip_many", "zero_header", "random", "wrong_ext", "empty", "huge", "splice",
             "zero_middle", "duplicate_block", "truncate_header"]
    cases: list[Path] = []
    for i in range(NUM_CASES):
        kind = kinds[i % len(kinds)]
        name = names[(i // len(kinds)) % len(names)]
        data = bytearray(bases[name])
        suffix = _suffix(name)
        if kind == "truncate":
            data = data[: int(rng.integers(1, len(data)))]
        elif kind == "truncate_header":
            data = data[: int(rng.integers(1, min(600, len(data))))]
        elif kind in ("flip", "flip_many"):
            count = 1 if kind == "flip" else int(rng.integers(5, 200))
            for at in rng.integers(0, len(data), count):
                data[at] ^= int(rng.integers(1, 256))
        elif kind == "zero_header":
            size = int(rng.integers(4, 400))
            data[:size] = bytes(size)
        elif kind == "random":
            data = bytearray(rng.integers(0, 256, int(rng.integers(1, 20000)), dtype=np.uint8).tobytes())
            suffix = str(rng.choice([".mp4", ".mov", ".mkv", ".avi", ".webm", ".gif"]))
        elif kind == "wrong_ext":
            suffix = str(rng.choice([".mp4", ".gif", ".avi", ".txt", ".webm", ".wav", ""]))
        elif kind == "empty":
            data = bytearray()
        elif kind == "huge":
            data = bytearray(_huge(name, bytes(data), rng))
        elif kind == "splice":  # the head of one video glued to the tail of another
            other = bases[names[int(rng.integers(0, len(names)))]]
            data = data[: int(rng.integers(1, len(data)))] + other[int(rng.integers(0, len(other))):]
        elif kind == "zero_middle":
            start = int(rng.integers(len(data) // 4, len(data) // 2))
            end = min(len(data), start + int(rng.integers(16, 2000)))
            data[start:end] = bytes(end - start)
        elif kind == "duplicate_block":
            start = int(rng.integers(0, len(data)))
            size = int(rng.integers(1, 4000))
            data = data[:start] + data[start:start + size] * int(rng.integers(2, 6)) + data[start + size:]
        path = directory / f"case{i:03d}_{kind}_{name.replace('.', '_')}{suffix}"
        path.write_bytes(bytes(data))
        cases.append(path)
    return cases


# ---- running cases in workers ----------------------------------------------------------------------------
class Worker:
    """One worker process; ``run`` returns its result for a case, or a failure for a hang or a crash."""

    def __init__(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER], cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        ready = self._read(120.0)
        assert ready and ready.get("ready"), "fuzz worker failed to start"

    def _read(self, timeout: float) -> dict | None:
        readable, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not readable:
            return None
        line = self.proc.stdout.readline()
        return json.loads(line) if line else {"outcome": "crash", "detail": f"exit code {self.proc.poll()}"}

    def run(self, index: int, path: Path, timeout: float = CASE_SECONDS) -> dict:
        self.send((json.dumps({"i": index, "path": str(path)}) + "\n").encode())
        result = self._read(timeout)
        if result is None:
            return {"outcome": "hang", "detail": f"no answer within {timeout} s"}
        return result

    def send(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_cases(cases: list[Path], workers: int = 2) -> list[dict]:
    """Results in case order; a worker that hangs or crashes is replaced for the following cases."""
    results: list[dict | None] = [None] * len(cases)
    lock = threading.Lock()
    queue = list(enumerate(cases))

    def drain() -> None:
        worker = Worker()
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    index, path = queue.pop(0)
                result = worker.run(index, path)
                result["case"] = path.name
                results[index] = result
                if result["outcome"] in ("hang", "crash"):
                    worker.proc.kill()
                    worker.proc.wait()
                    worker = Worker()
        finally:
            worker.close()

    threads = [threading.Thread(target=drain) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [r for r in results if r is not None]


@pytest.fixture(scope="module")
def fuzz_results(tmp_path_factory) -> list[dict]:
    return run_cases(make_cases(tmp_path_factory.mktemp("fuzz")))


def test_every_malformed_input_works_or_raises_video_error(fuzz_results):
    assert len(fuzz_results) == NUM_CASES >= 200
    bad = [r for r in fuzz_results if r["outcome"] not in ("ok", "video_error")]
    assert not bad, "\n".join(f"{r['case']}: {r['outcome']}: {r['detail']}" for r in bad[:20])
    outcomes = [r["outcome"] for r in fuzz_results]
    # the corpus exercises both paths: damaged-but-readable files and refused ones
    assert outcomes.count("ok") >= 20 and outcomes.count("video_error") >= 50


def test_error_messages_name_the_file_and_never_dump_bytes(fuzz_results):
    for result in fuzz_results:
        if result["outcome"] == "video_error":
            message = result["detail"]
            assert message.split(":")[0] == result["case"], message
            assert len(message) < 400 and "\\x" not in message and "case" not in message.split(":", 1)[1], message
            assert "/tmp" not in message and os.sep + result["case"] not in message, message


def test_each_case_is_fast_and_memory_stays_bounded(fuzz_results):
    slowest = max(fuzz_results, key=lambda r: r.get("seconds", 0.0))
    assert slowest["seconds"] < CASE_SECONDS, slowest
    peak = max(r.get("rss_growth_mb", 0.0) for r in fuzz_results)
    assert peak < RSS_LIMIT_MB, f"worker RSS grew by {peak:.0f} MB"


def test_huge_declared_sizes_are_refused(fuzz_results):
    # only where the header alone states the size (h264, vp9, mpeg4, mjpeg carry it in the bitstream)
    huge = [r for r in fuzz_results if "_huge_" in r["case"] and r["case"].split("_huge_")[1].startswith(("y4m", "raw"))]
    assert huge and all(r["outcome"] == "video_error" for r in huge), huge


def test_a_hang_is_reported_not_waited_for():
    """The harness itself: a worker that does not answer in time gives a "hang" result, not a blocked run."""
    worker = Worker()
    try:
        worker.send(b'{"i": 0, "path": ')  # an unfinished line: the worker blocks reading it, like a hang
        assert worker._read(1.0) is None
    finally:
        worker.proc.kill()
        worker.proc.wait()
