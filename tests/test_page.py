"""Tests of the listening page: its links and tables, and a real headless Chromium loading it.

The browser test drives Chromium through its DevTools protocol with a minimal websocket client
written here on the standard library (no extra package); it is skipped when /usr/bin/chromium is
missing (CI installs it with `apt-get install chromium`).
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import struct
import subprocess
import time
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from genrevae.export import export_genre
from genrevae.page import collect_genre, relative_url, write_listening_page
from genrevae.quality import json_text

CHROMIUM = Path("/usr/bin/chromium")
N_SAMPLES = 3001
RATE = 3000
GENRES = ["jazz", "r&b"]  # '&' must be escaped in HTML and percent-encoded in links


class _Links(HTMLParser):
    """Collects the src/href of every tag, and the tags themselves."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def links(self, tag: str, attr: str) -> list[str]:
        return [str(a[attr]) for t, a in self.tags if t == tag and a.get(attr)]


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _write_figures(folder: Path) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("samples_grid.png", "reconstructions.png", "loss_curves.png", "latent_space.png"):
        Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(folder / name)
    frames = [Image.fromarray(np.full((40, 60, 3), v, dtype=np.uint8)) for v in (0, 128, 255)]
    frames[0].save(folder / "samples_evolution.gif", save_all=True, append_images=frames[1:], duration=200, loop=0)


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A results/ folder as the workflow leaves it, for two genres, with tiny models."""
    import keras

    from genrevae.model import build_model

    root = tmp_path_factory.mktemp("results") / "results"
    t = np.arange(N_SAMPLES) / RATE
    for i, genre in enumerate(GENRES):
        keras.utils.set_random_seed(i)
        model = build_model({"preset": "conv", "conv": {"width": 4, "max_width": 8, "strides": [4, 4], "latent_channels": 4}}, N_SAMPLES)
        clips = np.stack([0.5 * np.sin(2 * np.pi * (150 + 50 * j + 300 * i) * t) for j in range(5)]).astype(np.float32)
        split = {"tracks": np.array([f"{genre}.{j:05d}.wav" for j in range(5)], dtype=object),
                 "train": np.array([0, 2]), "test": np.array([1, 3, 4])}  # fmt: skip
        render = {"n_generated": 3, "n_reconstructions": 2, "n_interpolations": 1, "interpolation_steps": 3}
        export_genre(model, clips, split, root / genre / "generated", seed=100, sample_rate=RATE, render=render)
        _write_figures(root / genre / "figures")
        metric = {"n_clips": 3, "elbo_nats": -1234.5, "iwae_nats": -1200.25, "snr_db": 3.5, "kl_per_dim": [0.1, 0.2]}
        metrics = {"test": metric, "train": {**metric, "n_clips": 2}, "n_samples": N_SAMPLES, "latent_shape": [24, 4], "settings": {"seed": 1}}
        (root / genre / "metrics.json").write_text(json.dumps(metrics))
        quality = {"frechet_generated_test": 50.0, "frechet_train_test": 10.0, "ratio": 5.0, "frechet_generated_train": 40.0,
                   "n_clips": {"generated": 2, "train": 2, "test": 3}, "rms": {"generated": 0.1, "train": 0.3, "test": 0.3},
                   "feature": "frame-level MFCC"}  # fmt: skip
        (root / genre / "generation_quality.json").write_text(json_text(quality))
    pd.DataFrame(
        {"genre": GENRES, "n_generated": [16, 16], "fidelity": [0.75, float("nan")], "test_accuracy": [1.0, 1.0]}
    ).to_csv(root / "genre_fidelity.csv", index=False)
    write_listening_page(root, GENRES, root / "index.html", root / "genre_fidelity.csv", root / "listening_report.html")
    return root


# ---------------------------------------------------------------- the page as a file


def test_page_links_are_relative_and_resolve(results: Path) -> None:
    page = _parse(results / "index.html")
    links = page.links("audio", "src") + page.links("img", "src") + page.links("a", "href")
    assert links
    for link in links:
        if link.startswith("#"):
            continue
        parsed = urlparse(link)
        assert not parsed.scheme and not parsed.netloc and not link.startswith("/"), link
        assert (results / unquote(parsed.path)).is_file(), link
    assert any(link.startswith("r%26b/") for link in links)


def test_page_has_a_player_per_clip_and_every_figure(results: Path) -> None:
    page = _parse(results / "index.html")
    audio = page.links("audio", "src")
    for genre in GENRES:
        manifest = pd.read_csv(results / genre / "generated" / "manifest.csv")
        expected = {relative_url(results / genre / "generated" / p, results) for p in manifest["playback_file"]}
        assert expected <= set(audio)
        assert all("/playback/" in a for a in audio)  # players use the 22,050 Hz copies
    assert len(audio) == 2 * (3 + 2 * 2 + 3)
    assert all(a.get("preload") == "metadata" and "controls" in a for t, a in page.tags if t == "audio")
    assert len(page.links("img", "src")) == 2 * 5
    assert not page.links("script", "src") and "<script" not in (results / "index.html").read_text()
    text = (results / "index.html").read_text()
    assert "r&amp;b" in text and "r&b<" not in text
    assert "-1234.5" in text and "0.75" in text and "Frechet distance, train vs test (floor)" in text


def test_report_excerpt_is_self_contained_and_small(results: Path) -> None:
    report = results / "listening_report.html"
    page = _parse(report)
    sources = page.links("audio", "src")
    assert sources and all(s.startswith("data:audio/wav;base64,") for s in sources)
    assert not page.links("img", "src")
    assert all(h.startswith("#") for h in page.links("a", "href"))
    assert report.stat().st_size < 1_400_000
    # a tight budget embeds fewer clips, generated samples of both genres first
    small = results / "small.html"
    write_listening_page(results, GENRES, results / "index.html", None, small, budget=50_000)
    n_small = len(_parse(small).links("audio", "src"))
    assert 2 <= n_small < len(sources) and small.stat().st_size <= 50_000
    assert "(not embedded)" in small.read_text()
    for budget in (50_000, 100_000, 150_000):  # a pair is embedded whole or not at all
        write_listening_page(results, GENRES, results / "index.html", None, small, budget=budget)
        pairs = re.findall(r'<div class="pair">(.*?)</div>', small.read_text())
        assert pairs and all(p.count("<audio") in (0, 2) for p in pairs)


def test_collect_genre_tolerates_missing_pieces(tmp_path: Path) -> None:
    g = collect_genre(tmp_path, "blues")
    assert g.metrics == {} and g.manifest.empty and g.figures == {}
    write_listening_page(tmp_path, ["blues"], tmp_path / "index.html", report_html=tmp_path / "report.html")
    assert "No metrics.json" in (tmp_path / "index.html").read_text()
    assert "No generated clips" in (tmp_path / "report.html").read_text()


# ---------------------------------------------------------------- a real browser


class DevTools:
    """Just enough of a websocket client (RFC 6455) to speak Chromium's DevTools protocol."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        u = urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
        )  # fmt: skip
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert b" 101 " in head.split(b"\r\n")[0], head
        self.next_id = 0
        self.events: list[dict] = []

    def _recv(self) -> bytes:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("Chromium closed the DevTools connection")
        return chunk

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self.buffer += self._recv()
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            size = bytes([0x80 | n])
        elif n < 1 << 16:
            size = bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            size = bytes([0x80 | 127]) + struct.pack(">Q", n)
        masked = (np.frombuffer(payload, np.uint8) ^ np.resize(np.frombuffer(mask, np.uint8), n)).tobytes()
        self.sock.sendall(bytes([0x80 | opcode]) + size + mask + masked)

    def receive(self) -> dict:
        data = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(n)  # the server never masks
            opcode = b0 & 0x0F
            if opcode == 9:
                self._send(10, payload)
            elif opcode == 8:
                raise ConnectionError("Chromium closed the DevTools connection")
            elif opcode in (0, 1, 2):
                data += payload
                if b0 & 0x80:
                    return json.loads(data)

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self._send(1, json.dumps({"id": self.next_id, "method": method, "params": params}).encode())
        while True:
            message = self.receive()
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 30.0) -> dict:
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.receive()
            if message.get("method") == method:
                return message
            self.events.append(message)
        raise TimeoutError(method)

    def evaluate(self, expression: str, context_id: int | None = None):
        params = {"expression": expression, "returnByValue": True}
        if context_id is not None:
            params["contextId"] = context_id
        result = self.call("Runtime.evaluate", **params)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def errors(self) -> list[str]:
        out = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                out.append(json.dumps(params["exceptionDetails"])[:500])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                out.append(json.dumps(params.get("args"))[:500])
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                out.append(f"{params['entry'].get('text')} {params['entry'].get('url', '')}")
        return out


MEDIA_STATE = """JSON.stringify({
  images: [...document.images].map(i => ({src: i.src.slice(0, 80), complete: i.complete, width: i.naturalWidth})),
  audio: [...document.querySelectorAll('audio')].map(a => ({src: a.src.slice(0, 80), ready: a.readyState,
                                                            error: a.error && a.error.code, duration: a.duration}))
})"""


def _settled_media(tools: DevTools, context_id: int | None = None, timeout: float = 30.0) -> dict:
    """Poll until every image finished and every <audio> has metadata or an error."""
    deadline = time.monotonic() + timeout
    while True:
        state = json.loads(tools.evaluate(MEDIA_STATE, context_id))
        done = all(i["complete"] for i in state["images"]) and all(a["ready"] >= 1 or a["error"] for a in state["audio"])
        if done or time.monotonic() > deadline:
            return state
        time.sleep(0.1)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install it (apt-get install chromium) to run the browser test")
    profile = tmp_path_factory.mktemp("chromium-profile")
    process = subprocess.Popen(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--mute-audio", "--window-size=1280,900", f"--user-data-dir={profile}",
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.is_file() and port_file.read_text().strip()):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Chromium did not start (exit code {process.poll()})")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            targets = json.load(response)
        tools = DevTools(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
        for domain in ("Page", "Runtime", "Log"):
            tools.call(f"{domain}.enable")
        yield tools
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _open(tools: DevTools, path: Path) -> None:
    tools.events.clear()
    tools.call("Page.navigate", url=path.resolve().as_uri())
    tools.wait_for("Page.loadEventFired")


def test_page_loads_in_chromium_with_every_image_and_player(browser: DevTools, results: Path, tmp_path: Path) -> None:
    _open(browser, results / "index.html")
    state = _settled_media(browser)
    assert len(state["images"]) == 10 and len(state["audio"]) == 20
    assert all(i["width"] > 0 for i in state["images"]), state["images"]
    assert all(a["ready"] >= 1 and a["error"] is None for a in state["audio"]), state["audio"]
    assert all(a["duration"] == pytest.approx(N_SAMPLES / RATE, abs=0.01) for a in state["audio"])
    assert browser.errors() == []

    shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    screenshot = tmp_path / "index.png"
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    with Image.open(screenshot) as image:
        assert image.size[0] >= 800 and image.size[1] > 900  # the whole, long page
        assert np.asarray(image.convert("L")).std() > 5  # not a blank page


def test_report_excerpt_plays_inside_a_data_url_frame(browser: DevTools, results: Path, tmp_path: Path) -> None:
    """The Snakemake report shows an HTML result as <iframe src="data:text/html;base64,...">."""
    report = results / "listening_report.html"
    _open(browser, report)
    state = _settled_media(browser)
    assert state["audio"] and all(a["ready"] >= 1 and a["error"] is None for a in state["audio"])
    assert browser.errors() == []

    wrapper = tmp_path / "report.html"
    uri = "data:text/html;base64," + base64.b64encode(report.read_bytes()).decode()
    wrapper.write_text(f'<!DOCTYPE html><html><body><iframe src="{uri}" width="1200" height="800"></iframe></body></html>')
    _open(browser, wrapper)
    children = browser.call("Page.getFrameTree")["frameTree"].get("childFrames", [])
    assert len(children) == 1 and children[0]["frame"]["url"].startswith("data:text/html")
    frame_id = children[0]["frame"]["id"]
    contexts = [
        e["params"]["context"]["id"]
        for e in browser.events
        if e.get("method") == "Runtime.executionContextCreated"
        and e["params"]["context"].get("auxData", {}).get("frameId") == frame_id
    ]
    assert contexts, "no script context in the report frame"
    framed = _settled_media(browser, contexts[-1])
    assert len(framed["audio"]) == len(state["audio"])
    assert all(a["ready"] >= 1 and a["error"] is None for a in framed["audio"])
    assert browser.errors() == []
