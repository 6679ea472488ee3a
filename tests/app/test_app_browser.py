"""`dcpt app` end to end in a real headless browser: Playwright drives Debian's Chromium.

The app runs as `python -m dcpt app` in a subprocess on a free port, with tiles small enough that the
test photograph is restored in tiles. The test uploads a photograph degraded with strong Gaussian
noise, presses Restore and checks what a user sees: the top detected degradation is the applied one,
the progress bar counted the tiles, the before/after slider holds two images of the input's size, the
downloaded PNG has that size too, and the page made no request outside the local server. A screenshot goes to docs/figures/app.png.

Chromium is Debian's (`/usr/bin/chromium`, no browser download); where it is missing, the test
installs it with apt-get when it runs as root, and skips with the reason otherwise.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch
from PIL import Image

import dcpt
from dcpt.data import load_samples
from dcpt.data.io import write_image

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "figures" / "app.png"
APPLIED = "gaussian_noise"
TIMEOUT_MS = 180_000
RECORD_PROGRESS = """() => {
  window.progressSeen = [];
  new MutationObserver(() => {
    for (const e of document.querySelectorAll('[data-testid=status-tracker]'))
      if (/tiles/.test(e.innerText)) window.progressSeen.push(e.innerText.replace(/\\s+/g, ' '));
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""
"""Records every text of Gradio's progress trackers that counts tiles (they may show for a moment only)."""


def _chromium() -> Path:
    if not CHROMIUM.exists() and shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(
            ["nice", "-n", "19", "apt-get", "install", "-y", "-q", "chromium"],
            capture_output=True,
            timeout=900,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    if not CHROMIUM.exists():
        pytest.skip(
            f"Debian's Chromium ({CHROMIUM}) is missing and could not be installed "
            "(`apt-get install chromium` needs root and Debian's package lists)"
        )
    return CHROMIUM


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app's URL, served by `python -m dcpt app` until the module's tests end."""
    pytest.importorskip("gradio", reason="the app extra is not installed: pip install 'dcpt[app]'")
    port = _free_port()
    log = tmp_path_factory.mktemp("app") / "app.log"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "dcpt", "app", "--port", str(port), "--tile", "128", "--device", "cpu"]
    with open(log, "w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"dcpt app exited with {proc.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"dcpt app did not answer on {url} within 180 s:\n{log.read_text()}")
            time.sleep(1)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C: the app closes and removes its temporary folder
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser():
    chromium = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), headless=True)
        yield browser
        browser.close()


def _save_screenshot(png: bytes, width: int = 960) -> None:
    """The page, scaled to `width` pixels and reduced to 256 colours: a small PNG for the docs."""
    with Image.open(io.BytesIO(png)) as shot:
        shot = shot.convert("RGB")
        shot = shot.resize((width, round(shot.height * width / shot.width)), Image.Resampling.LANCZOS)
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shot.quantize(256, method=Image.Quantize.MEDIANCUT).save(SCREENSHOT, optimize=True)


def test_upload_restore_download(server, browser, tmp_path):
    photo = dict(load_samples("test"))["coffee"]
    lq = dcpt.degrade.apply(APPLIED, photo[None], [50.0], generator=torch.Generator().manual_seed(0))[0]
    upload = write_image(tmp_path / "coffee_noisy.png", lq)
    size = (lq.shape[2], lq.shape[1])  # (width, height) = (600, 400): many 128-pixel tiles

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    outside = []
    page.on(
        "request",
        lambda r: None if r.url.startswith((server, "data:", "blob:")) else outside.append(r.url),
    )
    page.goto(server)
    page.locator("#photo input[type=file]").set_input_files(str(upload))
    page.locator("#photo img").first.wait_for(timeout=TIMEOUT_MS)
    page.evaluate(RECORD_PROGRESS)
    page.click("#restore")

    top = page.locator("#probabilities [data-testid=label-output-value]")
    top.wait_for(timeout=TIMEOUT_MS)
    assert top.inner_text().strip() == APPLIED

    page.wait_for_function(
        "() => { const imgs = document.querySelectorAll('#slider img');"
        " return imgs.length === 2 && [...imgs].every(i => i.complete && i.naturalWidth > 0); }",
        timeout=TIMEOUT_MS,
    )
    shown = page.eval_on_selector_all(
        "#slider img", "imgs => imgs.map(i => [i.naturalWidth, i.naturalHeight])"
    )
    assert [tuple(s) for s in shown] == [size, size]
    summary = page.locator("#piqe").inner_text()
    assert "PIQE" in summary and f"{size[0]} x {size[1]} pixels" in summary
    tiles = re.search(r"Restored in (\d+) tiles", summary)
    assert tiles, summary
    progress = page.evaluate("() => window.progressSeen")
    assert any(re.search(rf"\b\d+/{tiles.group(1)} tiles\b", text) for text in progress), progress

    with page.expect_download(timeout=TIMEOUT_MS) as download:
        page.click("#download")
    with Image.open(download.value.path()) as restored:
        assert restored.format == "PNG" and restored.size == size

    _save_screenshot(page.screenshot(full_page=True))
    assert outside == [], f"the page reached outside the local server: {outside}"
    page.close()


def test_an_example_photo(server, browser):
    """The first example (the held-out `chelsea`, 451 x 300, with Gaussian noise) through the page."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server)
    page.locator("button.gallery-item:has(img[src*='chelsea_gaussian_noise'])").click(timeout=TIMEOUT_MS)
    page.locator("#photo img").first.wait_for(timeout=TIMEOUT_MS)
    page.click("#restore")
    top = page.locator("#probabilities [data-testid=label-output-value]")
    top.wait_for(timeout=TIMEOUT_MS)
    assert top.inner_text().strip() == APPLIED
    page.locator("#piqe", has_text="451 x 300 pixels").wait_for(timeout=TIMEOUT_MS)
    page.close()
