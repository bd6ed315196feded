"""The template preview in a real browser: headless Chromium against a running
worker's /templates pages, and a screenshot of each rendered HTML email."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from streams.render import Renderer

pytestmark = pytest.mark.broker

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--window-size=900,1400"]
# without it the screenshot can be taken before the iframes have painted
SETTLE = "--virtual-time-budget=5000"
EMAIL_BACKGROUND = (0xF4, 0xF5, 0xF7)  # streams/templates/base.html


@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM:
        return CHROMIUM
    message = "chromium is not installed (apt-get install chromium chromium-driver)"
    if IN_CI:
        pytest.fail(message + " (CI=true: browser tests must run, not skip)")
    pytest.skip(message)


def browse(chromium: str, workdir: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tempfile.mkdtemp(prefix="profile-", dir=workdir)  # a fresh, empty profile
    result = subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *args],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


class Outline(HTMLParser):
    """Links, headings and iframes of a page, as the browser's DOM has them."""

    def __init__(self) -> None:
        super().__init__()
        self.links: dict[str, str] = {}
        self.h2: list[str] = []
        self.iframes: list[dict] = []
        self._open: str | None = None
        self._href = ""

    def handle_starttag(self, tag, attrs):
        if tag in ("a", "h2"):
            self._open, self._href = tag, dict(attrs).get("href", "")
            if tag == "h2":
                self.h2.append("")
        elif tag == "iframe":
            self.iframes.append(dict(attrs))

    def handle_endtag(self, tag):
        if tag == self._open:
            self._open = None

    def handle_data(self, data):
        if self._open == "a":
            self.links[data.strip()] = self._href
        elif self._open == "h2":
            self.h2[-1] += data


def outline(dom: str) -> Outline:
    parser = Outline()
    parser.feed(dom)
    return parser


def png_pixels(data: bytes) -> list[tuple[int, ...]]:
    """Decode an 8-bit, non-interlaced RGB/RGBA PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += length + 12
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return [tuple(row[x:x + 3]) for row in rows for x in range(0, stride, bpp)]


def screenshot(chromium: str, workdir: Path, url: str, name: str) -> list[tuple[int, ...]]:
    shot = workdir / f"{name}.png"
    browse(chromium, workdir, SETTLE, f"--screenshot={shot}", url)
    return png_pixels(shot.read_bytes())


def assert_not_blank(pixels: list[tuple[int, ...]]) -> None:
    inked = sum(1 for p in pixels if min(p) < 200) / len(pixels)
    assert len(set(pixels)) >= 8, f"only {len(set(pixels))} colours"
    assert inked > 0.002, f"only {inked:.2%} of the pixels carry ink"


def test_preview_pages_render_in_chromium(chromium, worker_factory, tmp_path):
    worker = worker_factory()
    base = f"http://127.0.0.1:{worker.port}/templates"
    renderer = Renderer()
    names, locales = renderer.list_templates(), renderer.locales()

    index = outline(browse(chromium, tmp_path, "--dump-dom", base).stdout)
    assert sorted(index.links) == names
    assert all(index.links[n] == f"/templates/{n}" for n in names)

    page = outline(browse(chromium, tmp_path, "--dump-dom", f"{base}/card_key_ready").stdout)
    assert [h.split()[0] for h in page.h2] == locales
    assert len(page.iframes) == len(locales)
    assert all(f.get("sandbox") == "" and "<html" in f.get("srcdoc", "").lower()
               for f in page.iframes)
    # the page itself renders (whether a headless screenshot paints the sandboxed
    # srcdoc frames varies between Chromium builds, so the email is checked on its own)
    assert_not_blank(screenshot(chromium, tmp_path, f"{base}/card_key_ready", "card_key_ready"))

    for locale in locales:
        pixels = screenshot(chromium, tmp_path, f"{base}/card_key_ready/{locale}.html",
                            f"card_key_ready.{locale}")
        assert_not_blank(pixels)
        assert pixels.count(EMAIL_BACKGROUND) / len(pixels) > 0.3


def test_the_blank_check_sees_a_blank_page(chromium, tmp_path):
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    pixels = screenshot(chromium, tmp_path, blank.as_uri(), "blank")
    with pytest.raises(AssertionError, match="colours"):
        assert_not_blank(pixels)
