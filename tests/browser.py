"""Headless Chromium for the tests that look at a page the way a reader's browser shows it.

Why a real browser: the report is HTML a person opens; only a browser proves it lays out
and its embedded charts decode. Chromium comes from the Debian package ``chromium``: where
it is missing, it is installed with apt-get when that is possible (root, apt-get present,
as in CI); otherwise the test is skipped and says why. Nothing else is downloaded.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from PIL import Image

from tests.debian import installed

CHROMIUM = Path("/usr/bin/chromium")
# A hung browser must not hang the suite; a screenshot takes a few seconds.
TIMEOUT_S = 180


def chromium() -> Path:
    """The Chromium binary, installed first when missing and installable; else a skip."""
    return installed("chromium", _find, "no chromium binary is on PATH")


def _find() -> Path | None:
    if CHROMIUM.exists():
        return CHROMIUM
    on_path = shutil.which("chromium") or shutil.which("chromium-browser")
    return Path(on_path) if on_path else None


def screenshot(browser: Path, page: Path, out: Path, width: int, height: int) -> Path:
    """``page`` rendered in a ``width`` x ``height`` window, saved as the PNG ``out``.

    --no-sandbox: Chromium refuses to run as root with its sandbox (CI containers run as
    root); the page is our own file, not the web.
    """
    command = [
        str(browser), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        f"--screenshot={out}", f"--window-size={width},{height}", page.resolve().as_uri(),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0 and out.exists(), done.stderr[-2000:]
    return out


def content_height(image: Image.Image) -> int:
    """The height down to the last row that differs from the page's bottom background."""
    rgb = image.convert("RGB")
    background = rgb.getpixel((0, rgb.height - 1))
    width = rgb.width
    for y in range(rgb.height - 1, -1, -1):
        row = rgb.crop((0, y, width, y + 1)).getcolors(maxcolors=width + 1) or []
        if any(colour != background for _, colour in row):
            return y + 1
    return 0
