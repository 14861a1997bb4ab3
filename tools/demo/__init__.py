"""The demo estate's generator (not installed): ``python -m tools.demo.make_demo`` rewrites the
embedded snapshot in ``audit_function/data/demo/`` (tests/tools/test_demo_estate.py checks it is
the generator's output, byte for byte)."""

from importlib import resources
from pathlib import Path

#: the snapshot directory ``kv-audit audit --demo`` reads
DEMO_DIR = Path(str(resources.files("audit_function.data").joinpath("demo")))
