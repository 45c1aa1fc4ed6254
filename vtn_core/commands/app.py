"""``app``: start the Streamlit app on the bundled demo (``--present`` for presentation mode)."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from vtn_core.errors import VTNError
from vtn_core.paths import app_dir

HELP = "start the app on the bundled demo (http://localhost:8501); --present for presenting to an audience"
PRESENT_ENV = "VTN_PRESENT"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--present", action="store_true",
                        help="presentation mode: no developer menu, the best demo clip, a three-sentence story")
    parser.add_argument("--port", type=int, default=8501, help="port to serve on (default %(default)s)")
    parser.add_argument("--address", default=None, help="address to bind (default: Streamlit's, all interfaces)")
    parser.add_argument("streamlit_args", nargs=argparse.REMAINDER,
                        help="anything after `--` goes to `streamlit run` unchanged")


def config_flags(config: Path) -> list[str]:
    """The app's ``.streamlit/config.toml`` as ``--section.key value`` flags, so the settings hold whatever the
    working directory (Streamlit only reads the config of the folder it is started from)."""
    if not config.is_file():
        return []
    try:
        import tomllib as toml_reader  # Python 3.11+
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10: Streamlit depends on `toml`
        import toml as toml_reader  # type: ignore[no-redef]
    flags: list[str] = []
    for section, values in toml_reader.loads(config.read_text(encoding="utf-8")).items():
        for key, value in (values or {}).items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            flags += [f"--{section}.{key}", text]
    return flags


def streamlit_command(folder: Path, present: bool, port: int, address: str | None, extra: list[str]) -> list[str]:
    """The ``streamlit run`` command line for the app in ``folder``."""
    command = [sys.executable, "-m", "streamlit", "run", str(folder / "app.py")]
    command += config_flags(folder / ".streamlit" / "config.toml")
    command += ["--server.port", str(port), "--server.headless", "true"]
    if address:
        command += ["--server.address", address]
    if present:
        command += ["--client.toolbarMode", "viewer"]
    return command + [arg for arg in extra if arg != "--"]


def run(args: argparse.Namespace) -> int:
    folder = app_dir()
    if not (folder / "app.py").is_file():
        raise VTNError(f"the app's files are missing (looked for app.py in {folder}); reinstall the package")
    if not 0 < args.port < 65536:
        raise VTNError(f"--port must be between 1 and 65535, got {args.port}")
    env = dict(os.environ)
    if args.present:
        env[PRESENT_ENV] = "1"
    command = streamlit_command(folder, args.present, args.port, args.address, list(args.streamlit_args))
    try:
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 0
