"""TensorBoard shows a run written by tl.utils.tensorboard: `tensorboard --logdir` on a loopback port, its HTTP
API lists the run and tags, headless Chromium renders the page (its DOM names them) and screenshots the scalars
dashboard into the test's tmp dir (tensorboard_scalars.png, for a person to look at).

Skips, saying why, where the tensorboard package or Chromium (Debian: apt-get install -y chromium) is absent.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

pytest.importorskip("tensorboardX", reason="tensorboardX not installed (pip install 'tinygrad_lite[tensorboard]')")
pytest.importorskip("tensorboard", reason="the tensorboard package is not installed (pip install 'tinygrad_lite[tensorboard]')")

import tinygrad_lite as tl  # noqa: E402
from tinygrad_lite.utils.tensorboard import SummaryWriter  # noqa: E402

RUN = "seed_run"
TAGS = {"train_loss", "test_accuracy"}


@pytest.fixture(scope="module")
def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("Chromium is not installed (Debian: apt-get install -y chromium): no browser screenshot")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`tensorboard --logdir` over one run of two tags, on 127.0.0.1; killed afterwards."""
    tmp_path = tmp_path_factory.mktemp("tensorboard_server")
    logdir = tmp_path / "logs"
    with SummaryWriter(logdir / RUN) as w:
        for step in range(1, 21):
            w.add_scalar("train_loss", tl.Tensor(2.0 / step), step)
            w.add_scalar("test_accuracy", np.float32(1 - 0.5 / step), step)
    port = free_port()
    log = open(tmp_path / "tensorboard.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1",
                             "--port", str(port), "--reload_interval", "1"], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"tensorboard exited with {proc.returncode}: {(tmp_path / 'tensorboard.log').read_text()}")
            try:
                if RUN in json.loads(get(f"{base}/data/runs")):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"tensorboard did not list the run within 90 s: {(tmp_path / 'tensorboard.log').read_text()}")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_tensorboard_lists_the_run_and_its_scalars(server):
    tags = json.loads(get(f"{server}/data/plugin/scalars/tags"))
    assert set(tags[RUN]) == TAGS
    rows = json.loads(get(f"{server}/data/plugin/scalars/scalars?run={RUN}&tag=train_loss"))
    assert [r[1] for r in rows] == list(range(1, 21))                     # [wall_time, step, value]
    np.testing.assert_allclose([r[2] for r in rows], [2.0 / s for s in range(1, 21)], rtol=1e-6)


def test_chromium_shows_the_run_and_tags_and_screenshots_the_scalars_page(chromium, server, tmp_path):
    browser = chromium
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-webgl", "--disable-dev-shm-usage",
             "--hide-scrollbars", "--no-first-run", "--window-size=1280,900", f"--user-data-dir={tmp_path / 'profile'}"]
    for budget in (15000, 40000):              # a busy machine may need longer to render: one retry
        dom = subprocess.run([*flags, f"--virtual-time-budget={budget}", "--dump-dom", f"{server}/#timeseries"],
                             capture_output=True, text=True, timeout=150).stdout
        if RUN in dom and all(tag in dom for tag in TAGS):
            break
    assert RUN in dom, "the rendered TensorBoard page does not name the run"
    for tag in TAGS:
        assert tag in dom, f"the rendered TensorBoard page does not name the tag {tag}"
    png = tmp_path / "tensorboard_scalars.png"
    subprocess.run([*flags, "--virtual-time-budget=15000", f"--screenshot={png}", f"{server}/#scalars"],
                   capture_output=True, timeout=150)
    assert png.is_file(), "Chromium wrote no screenshot"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    from PIL import Image
    img = np.asarray(Image.open(png).convert("RGB"), dtype=np.float32)
    assert img.shape == (900, 1280, 3)
    assert img.std() > 20, "the screenshot is nearly one colour: the page did not render"
    orange = (img[..., 0] > 200) & (img[..., 1] > 90) & (img[..., 1] < 160) & (img[..., 2] < 60)
    assert orange[:60].mean() > 0.5, "no TensorBoard header bar in the screenshot"
    print(f"screenshot: {png}")
