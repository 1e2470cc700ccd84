"""Open a rendered report in headless Chromium (DevTools protocol over a stdlib websocket).

Checks: the page loads with no console error, no CSP violation, no exception and no
network request; the sorting script runs under the CSP; the DOM holds the tables with the
numbers of the runs' score JSON; sorting works; the training curves lay out as small
multiples with their marks; screenshots are written. A negative control
proves the console / CSP detector catches an unhashed inline script.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from lteval.report import build_report
from lteval.report.synthetic import make_run

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "",
                             shutil.which("chromium-browser") or "") if p and os.path.exists(p)), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (/usr/bin/chromium; Debian package "
    "'chromium', installed by .ci/run)")


class CDP:
    """Minimal Chrome DevTools Protocol client: one page target, JSON messages over a websocket."""

    def __init__(self, ws_url: str, timeout: float = 60.0) -> None:
        u = urllib.parse.urlparse(ws_url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the handshake")
            buf += chunk
        head, self.buf = buf.split(b"\r\n\r\n", 1)
        assert b" 101 " in head.split(b"\r\n")[0], head
        self.next_id = 0
        self.events: list[dict] = []

    def _read(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("DevTools connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _recv_message(self) -> dict:
        data = b""
        while True:
            b0, b1 = self._read(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x8:
                raise ConnectionError("DevTools closed the websocket")
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode in (0x0, 0x1, 0x2):
                data += payload
                if b0 & 0x80:
                    return json.loads(data.decode("utf-8"))

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        mid = self.next_id
        self._send_frame(0x1, json.dumps({"id": mid, "method": method, "params": params}).encode())
        while True:
            msg = self._recv_message()
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 30.0) -> dict:
        for e in self.events:
            if e["method"] == method:
                return e
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self._recv_message()
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == method:
                    return msg
        raise TimeoutError(method)

    def drain(self, seconds: float) -> None:
        """Collect events for ``seconds`` (late console messages)."""
        self.sock.settimeout(0.2)
        end = time.monotonic() + seconds
        try:
            while time.monotonic() < end:
                try:
                    msg = self._recv_message()
                except (socket.timeout, TimeoutError):
                    continue
                if "method" in msg:
                    self.events.append(msg)
        finally:
            self.sock.settimeout(60)

    def evaluate(self, expression: str):
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                        awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(res["exceptionDetails"])
        return res["result"].get("value")

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class Browser:
    """Headless Chromium with remote debugging on a free port; no network, no sync, no updates."""

    def __init__(self, workdir: Path) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="chromium-", dir=workdir))
        self.log = open(workdir / "chromium.log", "wb")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-default-apps", "--disable-extensions", "--no-first-run",
             "--no-default-browser-check", "--metrics-recording-only", "--mute-audio",
             "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
             f"--user-data-dir={self.profile}", "--remote-debugging-port=0",
             "--window-size=1366,900", "about:blank"],
            stdout=self.log, stderr=self.log)
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}; see {workdir}/chromium.log")
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not open its DevTools port")
            time.sleep(0.1)
        self.port = int(port_file.read_text().splitlines()[0])

    def page(self) -> CDP:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + 30
        while True:
            targets = json.loads(opener.open(f"http://127.0.0.1:{self.port}/json/list", timeout=10).read())
            pages = [t for t in targets if t.get("type") == "page"]
            if pages:
                return CDP(pages[0]["webSocketDebuggerUrl"])
            if time.monotonic() > deadline:
                raise TimeoutError("no page target")
            time.sleep(0.1)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)


def open_page(browser: Browser, path: Path) -> tuple[CDP, list[str], list[str]]:
    """Load ``path``; return the client, the problems (console errors, CSP, exceptions) and request URLs."""
    cdp = browser.page()
    for domain in ("Page", "Runtime", "Log", "Network"):
        cdp.call(f"{domain}.enable")
    url = path.resolve().as_uri()
    cdp.call("Page.navigate", url=url)
    cdp.wait_for("Page.loadEventFired", timeout=60)
    cdp.drain(1.0)
    problems, requests = [], []
    for e in cdp.events:
        m, p = e["method"], e.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
            problems.append(f"console.{p['type']}: {p.get('args')}")
        elif m == "Runtime.exceptionThrown":
            problems.append(f"exception: {p.get('exceptionDetails', {}).get('text')}")
        elif m == "Log.entryAdded" and p["entry"].get("level") in ("error", "warning"):
            problems.append(f"log {p['entry'].get('source')}: {p['entry'].get('text')}")
        elif m == "Network.requestWillBeSent":
            requests.append(p["request"]["url"])
    return cdp, problems, requests


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = Browser(tmp_path_factory.mktemp("browser"))
    yield b
    b.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    a = make_run(root, "alpha-bce", seed=1, n_dev=200, n_test=180, calib_stage=True)
    b = make_run(root, 'beta "ldam_drw" <b>&amp; x', seed=2, n_dev=200, n_test=180, loss="ldam_drw")
    out = root / "report.html"
    out.write_text(build_report([a, b], bootstrap=40))
    return out, [a, b]


def test_report_loads_clean_under_csp_and_dom_matches_scores(browser, report, tmp_path):
    path, runs = report
    cdp, problems, requests = open_page(browser, path)
    try:
        assert problems == [], problems
        assert requests and all(u == path.resolve().as_uri() for u in requests), requests
        # the inline script ran (allowed by its hash) and nothing else did
        assert cdp.evaluate("document.documentElement.getAttribute('data-js')") == "ready"
        assert cdp.evaluate("document.scripts.length") == 2
        assert cdp.evaluate("document.querySelectorAll('img, iframe, object, embed, link').length") == 0
        names = cdp.evaluate("[...document.querySelectorAll('#leaderboard-table tbody tr')]"
                             ".map(r => r.getAttribute('data-run'))")
        assert names == ["alpha-bce", "alpha-bce+calib", 'beta "ldam_drw" <b>&amp; x']
        # the markup in a run name is text, not elements
        assert cdp.evaluate("document.querySelectorAll('#leaderboard-table b').length") == 0
        cells = cdp.evaluate(
            "Object.fromEntries([...document.querySelectorAll('#leaderboard-table tbody tr')].map(r =>"
            " [r.getAttribute('data-run'), [...r.querySelectorAll('td[data-metric]')].map(td =>"
            " [td.dataset.metric, td.dataset.split, td.dataset.v, td.firstChild.textContent.trim()])]))")
        for run in runs:
            got = {(m, s): (v, t) for m, s, v, t in cells[run.name]}
            for split in ("dev", "test"):
                score = json.loads((run / "scores" / f"{split}.json").read_text())
                for key in ("mAP", "mAUROC", "mF1", "ece"):
                    v, text = got[(key, split)]
                    assert float(v) == score["overall"][key]
                    assert text == f"{score['overall'][key]:.3f}"
        for sel in ("#group-table", ".threshold-table", ".gap-table", "section#reliability svg",
                    "section#pr svg", "section#ap-prevalence svg", "#configs pre",
                    "section#curves figure.curves svg", "section#ranking .rank-blobs svg",
                    "section#ranking .rank-map svg", "section#ranking .rank-table"):
            assert cdp.evaluate(f"document.querySelectorAll('{sel}').length") >= 1, sel
        # sorting by test mAP (descending first) orders the rows by that value
        cdp.evaluate("document.querySelector('#leaderboard-table th[data-metric=\"mAP\"]"
                     "[data-split=\"test\"]').click()")
        vals = cdp.evaluate("[...document.querySelectorAll('#leaderboard-table tbody tr')].map(r =>"
                            " parseFloat(r.querySelector('td[data-metric=\"mAP\"][data-split=\"test\"]')"
                            ".dataset.v))")
        assert vals == sorted(vals, reverse=True)
        cdp.evaluate("document.querySelector('#leaderboard-table th[data-metric=\"mAP\"]"
                     "[data-split=\"test\"]').click()")
        vals2 = cdp.evaluate("[...document.querySelectorAll('#leaderboard-table tbody tr')].map(r =>"
                             " parseFloat(r.querySelector('td[data-metric=\"mAP\"][data-split=\"test\"]')"
                             ".dataset.v))")
        assert vals2 == sorted(vals)
        # rank robustness: both figures laid out (not collapsed by the flex row), rows = runs
        widths = cdp.evaluate("[...document.querySelectorAll('section#ranking .rank-figs svg')]"
                              ".map(s => Math.round(s.getBoundingClientRect().width))")
        assert len(widths) == 2 and min(widths) > 200, widths
        ranked = cdp.evaluate("[...document.querySelectorAll('section#ranking .rank-table tbody tr')]"
                              ".map(r => r.getAttribute('data-run'))")
        assert sorted(ranked) == sorted(names)
        # screenshot of the whole page
        height = cdp.evaluate("document.documentElement.scrollHeight")
        shot = cdp.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                        clip={"x": 0, "y": 0, "width": 1366, "height": min(int(height), 12000),
                              "scale": 1})
        png = base64.b64decode(shot["data"])
        out = Path(os.environ.get("LTEVAL_TEST_ARTIFACTS", tmp_path)) / "report-screenshot.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(png)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
        # printable: the print media emulation still lays out every section
        cdp.call("Emulation.setEmulatedMedia", media="print")
        assert cdp.evaluate("getComputedStyle(document.querySelector('nav.toc')).display") == "none"
        pdf = cdp.call("Page.printToPDF", printBackground=False)
        assert base64.b64decode(pdf["data"])[:5] == b"%PDF-"
    finally:
        cdp.close()


def test_training_curves_render_in_the_browser(browser, report, tmp_path):
    """Small multiples: one laid-out figure per trained run (not per stage), with the marks."""
    path, runs = report
    cdp, problems, _ = open_page(browser, path)
    try:
        assert problems == [], problems
        figs = cdp.evaluate(
            "[...document.querySelectorAll('section#curves figure.curves')].map(f => {"
            " const r = f.querySelector('svg').getBoundingClientRect();"
            " return [f.dataset.run, Math.round(r.width), Math.round(r.height), Math.round(r.top),"
            "  f.querySelector('svg').querySelectorAll('path').length,"
            "  f.querySelector('svg').getAttribute('aria-label')]; })")
        assert [f[0] for f in figs] == [r.name for r in runs]
        for name, w, h, top, n_paths, label in figs:
            assert w >= 250 and h >= 200, (name, w, h)  # laid out, not collapsed
            assert n_paths > 20 and label == f"{name}: training curves"
        assert figs[0][3] == figs[1][3]  # side by side in the grid (same row)
        # the run name with markup is text in the caption
        assert cdp.evaluate("document.querySelectorAll('section#curves b').length") == 0
        caps = cdp.evaluate("[...document.querySelectorAll('section#curves figure.curves p.detail')]"
                            ".map(p => p.textContent)")
        assert all("selected checkpoint at step" in c for c in caps), caps
        assert "DRW switched on after step" in caps[1] and "DRW" not in caps[0]
        # the numbers table opens and lists every evaluation of the log
        n_log = len((runs[1] / "metrics.jsonl").read_text().splitlines())
        cdp.evaluate("document.querySelectorAll('section#curves details')[1].open = true")
        assert cdp.evaluate("document.querySelectorAll('section#curves details')[1]"
                            ".querySelectorAll('tbody tr').length") == n_log
        cdp.evaluate("document.getElementById('curves').scrollIntoView()")
        top = cdp.evaluate("document.getElementById('curves').getBoundingClientRect().top + window.scrollY")
        shot = cdp.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                        clip={"x": 0, "y": int(top), "width": 1366, "height": 700, "scale": 1})
        png = base64.b64decode(shot["data"])
        out = Path(os.environ.get("LTEVAL_TEST_ARTIFACTS", tmp_path)) / "report-curves.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(png)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
        cdp.drain(0.5)
        late = [e for e in cdp.events if e["method"] in ("Runtime.exceptionThrown", "Log.entryAdded")]
        assert late == [], late
    finally:
        cdp.close()


def test_metadata_report_clusters_and_strata_in_the_browser(browser, tmp_path):
    """--metadata/--cluster-by/--strata-by: the page loads clean, says it resampled patients
    and shows a strata table for every run and split, computed from the metadata."""
    a = make_run(tmp_path, "alpha", seed=1, n_dev=150, n_test=120)
    b = make_run(tmp_path, "beta <i>x<i> &amp;", seed=2, n_dev=150, n_test=120)
    ids = [ln.split(",", 1)[0] for s in ("dev", "test")
           for ln in (a / "labels" / f"{s}.csv").read_text().splitlines()[1:]]
    meta = tmp_path / "meta.csv"
    meta.write_text("ImageID,PatientID,view\n" + "".join(
        f"{x},P{i // 2},{('PA', 'AP', '<b>LAT</b>')[i % 3]}\n" for i, x in enumerate(ids)))
    path = tmp_path / "meta.html"
    path.write_text(build_report([a, b], bootstrap=20, metadata=meta, cluster_by="PatientID",
                                 strata_by=["view"]))
    cdp, problems, _ = open_page(browser, path)
    try:
        assert problems == [], problems
        notes = cdp.evaluate("[...document.querySelectorAll('[data-kind=\"global-note\"]')]"
                             ".map(p => p.textContent).join(' ')")
        assert "resamples clusters of 'PatientID'" in notes and "dev 75, test 60" in notes
        blocks = cdp.evaluate("[...document.querySelectorAll('section#strata details.strata')]"
                              ".map(d => d.dataset.run + '|' + d.dataset.split)")
        assert blocks == [f"{r}|{s}" for r in ("alpha", "beta <i>x<i> &amp;") for s in ("dev", "test")]
        values = cdp.evaluate("[...document.querySelector('section#strata table.strata-table')"
                              ".querySelectorAll('tbody tr')].map(r => r.cells[0].textContent)")
        assert sorted(values) == sorted(["PA", "AP", "<b>LAT</b>"])  # escaped text, not markup
        assert cdp.evaluate("document.querySelectorAll('section#strata b, section#strata i')"
                            ".length") == 0
        rank_text = cdp.evaluate("document.querySelector('section#ranking').textContent")
        assert "60 clusters of PatientID" in rank_text
    finally:
        cdp.close()


def test_detector_catches_csp_violations_and_requests(browser, report, tmp_path):
    """Negative control: an unhashed inline script and an external image are reported."""
    path, _ = report
    html = path.read_text().replace(
        "</body>", '<script>window.__bad = 1;</script><img src="http://127.0.0.1:9/x.png"></body>')
    bad = tmp_path / "bad.html"
    bad.write_text(html)
    cdp, problems, _ = open_page(browser, bad)
    try:
        assert cdp.evaluate("window.__bad === undefined")  # blocked by the CSP
        joined = " ".join(problems)
        assert "Content Security Policy" in joined and "script" in joined, problems
        assert "img-src" in joined, problems
    finally:
        cdp.close()

