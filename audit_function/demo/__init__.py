"""The embedded demo estate: a snapshot directory built by ``make_demo.py``."""

from pathlib import Path

#: the snapshot directory ``kv-audit audit --demo`` reads
DEMO_DIR = Path(__file__).resolve().parent
