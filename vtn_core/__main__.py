"""Entry point: ``python -m vtn_core <command>``."""
from vtn_core.cli import main

raise SystemExit(main())
