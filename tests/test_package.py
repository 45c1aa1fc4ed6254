"""The package: ``pip wheel .`` gives a wheel that declares the runtime dependencies (the ranges of
requirements.txt) and the ``vtn-explorer`` command, and carries the app; installed into a fresh virtual
environment (offline: it reuses the already-installed dependencies through a .pth file) the command answers
``--help``, predicts a bundled demo clip, refuses bad input with one ``error:`` line, and the app runs from the
installed files."""
from __future__ import annotations

import email
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from vtn_core.cli import COMMANDS

ROOT = Path(__file__).resolve().parent.parent


def source_files() -> list[str]:
    """The files a clone would hold (tracked and new, never ignored ones such as .venv or data/)."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                                capture_output=True, check=True, timeout=60).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        pytest.fail("git is needed to list the source files for the wheel build")
    return [name for name in listed if name and (ROOT / name).is_file()]


def runtime_requirements() -> list[str]:
    """requirements.txt's runtime block (up to the '# Tests' comment), without comments."""
    lines = []
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.startswith("# Tests"):
            break
        if line.strip() and not line.startswith("#"):
            lines.append(line.split("#")[0].strip())
    return lines


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """``pip wheel .`` of a clean copy of the source (no network: the installed setuptools builds it)."""
    source = tmp_path_factory.mktemp("source")
    for name in source_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheelhouse")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                            "--no-index", "-w", str(out), "-q", "--disable-pip-version-check"],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-3000:]
    wheels = list(out.glob("vtn_attention_explorer-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed; dependencies come from the shared venv through a .pth file and
    pip resolves them offline (a declared dependency the tested set does not satisfy fails here)."""
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    python = root / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    shared = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(purelib, "shared-deps.pth").write_text("\n".join(sorted(shared)) + "\n")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index",
                              "--disable-pip-version-check", "-q", str(wheel)], capture_output=True, text=True,
                             timeout=300)
    assert install.returncode == 0, install.stderr[-3000:]
    return root


def run(venv: Path, *args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VTN_ASSETS_DIR")}
    env["VTN_CACHE_DIR"] = str(cwd / "cache")
    return subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_wheel_declares_dependencies_extras_command_and_carries_the_app(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = email.message_from_string(archive.read(info).decode())
        entry_points = archive.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    requires = metadata.get_all("Requires-Dist")
    runtime = [r for r in requires if "extra ==" not in r]
    normalise = lambda text: "".join(sorted(text.replace(" ", "").replace(",", "")))  # noqa: E731
    assert sorted(map(normalise, runtime)) == sorted(map(normalise, runtime_requirements()))
    extras = set(metadata.get_all("Provides-Extra"))
    assert {"test", "corpus"} <= extras
    assert any(r.startswith("ray") and 'extra == "corpus"' in r for r in requires)
    assert "vtn-explorer = vtn_core.console:main" in entry_points
    for required in ("vtn_explorer_app/app.py", "vtn_explorer_app/pages/1_Compare.py", "vtn_explorer_app/ui/views.py",
                     "vtn_explorer_app/.streamlit/config.toml", "vtn_core/colours.py", "vtn_core/commands/predict.py"):
        assert required in names, required
    assert any(n.startswith("vtn_explorer_app/assets/models/") and n.endswith(".safetensors") for n in names)
    assert any(n.startswith("vtn_explorer_app/assets/demo_videos/") and n.endswith(".mp4") for n in names)
    packages = {str(p.parent.relative_to(ROOT)) for p in (ROOT / "vtn_core").rglob("__init__.py")}
    missing = [p for p in packages if f"{p}/__init__.py" not in names]
    assert not missing, f"add these packages to [tool.setuptools] packages in pyproject.toml: {missing}"
    assert not any("__pycache__" in n or n.startswith("tests/") for n in names)


def installed(venv: Path) -> Path:
    """The venv's site-packages (where the wheel put vtn_core and vtn_explorer_app)."""
    found = list(venv.glob("lib/python*/site-packages"))
    assert len(found) == 1, found
    return found[0]


def demo(venv: Path) -> tuple[Path, Path]:
    """A bundled learned checkpoint and a demo clip, from the installed copy of the assets."""
    assets = installed(venv) / "vtn_explorer_app" / "assets"
    return sorted((assets / "models").glob("*learned*.safetensors"))[0], sorted((assets / "demo_videos").rglob("*.mp4"))[0]


def test_installed_command_help(venv, tmp_path):
    assert (installed(venv) / "vtn_core" / "console.py").is_file()
    help_text = run(venv, str(venv / "bin" / "vtn-explorer"), "--help", cwd=tmp_path)
    assert help_text.returncode == 0, help_text.stderr
    assert help_text.stdout.startswith("usage: vtn-explorer")
    for name in ["app", *COMMANDS]:
        assert f"    {name} " in help_text.stdout, name


def test_installed_command_predicts_a_demo_clip(venv, tmp_path):
    checkpoint, clip = demo(venv)
    out = tmp_path / "prediction.json"
    predicted = run(venv, str(venv / "bin" / "vtn-explorer"), "predict", str(clip), "--checkpoint", str(checkpoint),
                    "--frames", "8", "--device", "cpu", "--json", str(out), cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    document = json.loads(out.read_text())
    assert len(document["frames"]) == 8 and document["top_k"][0]["label"]
    assert Path(document["checkpoint"]["path"]).is_relative_to(venv)
    assert len(document["cls_attention"][0][0]) == 8


def test_installed_command_refuses_bad_input_in_one_line(venv, tmp_path):
    checkpoint, _ = demo(venv)
    bad = run(venv, str(venv / "bin" / "vtn-explorer"), "predict", str(tmp_path / "missing.mp4"), "--checkpoint",
              str(checkpoint), cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_installed_app_runs_from_the_wheel(venv, tmp_path):
    """The installed app.py renders Explore on the installed demo (its ui/ and assets/ found from the wheel)."""
    python = str(venv / "bin" / "python")
    script = ("import sys, vtn_core.paths as p\n"
              "from streamlit.testing.v1 import AppTest\n"
              "at = AppTest.from_file(str(p.app_dir() / 'app.py'), default_timeout=240).run()\n"
              "assert not at.exception, [e.value for e in at.exception]\n"
              "assert not at.error, [e.value for e in at.error]\n"
              "print(p.app_dir()); print('Prediction:' in ' '.join(m.value for m in at.markdown))\n")
    done = run(venv, python, "-c", script, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    folder, shown = done.stdout.split()[-2:]
    assert Path(folder).is_relative_to(venv) and shown == "True"


def test_dockerfile_copies_what_the_wheel_is_built_from():
    """The Dockerfile is not built in CI: check it installs the package from every source the wheel needs."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = " ".join(line for line in dockerfile.splitlines() if line.startswith("COPY "))
    for needed in ("pyproject.toml", "README.md", "app.py", ".streamlit", "vtn_core", "ui", "pages", "assets"):
        assert f" {needed}" in copied and (ROOT / needed).exists(), needed
    assert "pip install ." in dockerfile and '"vtn-explorer", "app"' in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and "assets" not in ignored
