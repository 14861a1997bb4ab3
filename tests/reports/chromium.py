"""Headless Chromium (Debian's ``chromium`` package) for the HTML report tests.

Missing Chromium skips the tests on a laptop and fails them under CI (``CI=true``): CI installs it
(``./dev setup`` runs apt-get when it is absent), so a missing browser there is a broken setup, not
a reason to pass.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--enable-logging=stderr", "--v=0")
_CONSOLE = re.compile(r":CONSOLE(?::|\()")


def chromium_binary() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("chromium is not installed but CI is set: install Debian's chromium package "
                    "(./dev setup does it with apt-get)")
    pytest.skip("chromium is not installed (apt-get install chromium); under CI=true this fails")


@dataclass
class Page:
    stdout: str
    console: list[str]      # every console message (our page logs none: any is an error or a CSP violation)
    seconds: float


def open_page(path: Path, *, fragment: str = "", dump_dom: bool = True, screenshot: Path | None = None,
              window: str = "1280,2400", timeout: float = 60) -> Page:
    binary = chromium_binary()
    with tempfile.TemporaryDirectory(prefix="kv-audit-chromium-") as profile:
        args = [binary, *FLAGS, f"--user-data-dir={profile}", f"--window-size={window}"]
        if screenshot is not None:
            args += [f"--screenshot={screenshot}", "--hide-scrollbars"]
        elif dump_dom:
            args.append("--dump-dom")
        url = path.resolve().as_uri() + (f"#{fragment}" if fragment else "")
        started = time.monotonic()
        done = subprocess.run([*args, url], capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "HOME": profile})
        seconds = time.monotonic() - started
    console = [line for line in done.stderr.splitlines() if _CONSOLE.search(line)]
    assert done.returncode == 0, done.stderr[-2000:]
    return Page(done.stdout, console, seconds)
