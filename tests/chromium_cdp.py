"""A minimal headless-Chromium driver over the DevTools protocol (``--remote-debugging-pipe``).

Stdlib only (no Selenium/Playwright): the docs tests open pages of the built site, wait in real
time until the page's scripts have run (KaTeX, Material's search worker), and read the DOM with
``Runtime.evaluate``. ``--dump-dom --virtual-time-budget`` cannot wait for a Web Worker (the
search index is built in one), which is why the protocol is used instead.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Chromium:
    def __init__(self, binary):
        r_in, w_in = os.pipe()    # commands: we write, the browser reads its fd 3
        r_out, w_out = os.pipe()  # replies: the browser writes its fd 4, we read
        self._profile = tempfile.mkdtemp(prefix="nnscratch-chromium-")

        def child():
            os.dup2(r_in, 3)
            os.dup2(w_out, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        self.proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe", "--no-first-run",
             "--disable-extensions", f"--user-data-dir={self._profile}",
             "about:blank"],
            preexec_fn=child, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(r_in)
        os.close(w_out)
        self._w = os.fdopen(w_in, "wb", buffering=0)
        self._r = os.fdopen(r_out, "rb", buffering=0)
        self._id = 0
        self._replies = {}
        self._targets = {}
        self.requests = []  # every URL any tab asked for (Network.requestWillBeSent)
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        buf = b""
        while True:
            chunk = self._r.read(1 << 16)
            if not chunk:
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    with self._cond:
                        self._replies[msg["id"]] = msg
                        self._cond.notify_all()
                elif msg.get("method") == "Network.requestWillBeSent":
                    self.requests.append(msg["params"]["request"]["url"])

    def send(self, method, params=None, session=None, timeout=30.0):
        self._id += 1
        call_id = self._id
        msg = {"id": call_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self._w.write(json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self._cond:
            while call_id not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"Chromium did not answer {method} within {timeout} s")
                self._cond.wait(left)
            reply = self._replies.pop(call_id)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def open(self, url, width=1280, height=1600):
        """A new tab showing url; returns its session id."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session)
        self.send("Page.enable", session=session)
        self.send("Network.enable", session=session)
        self.send("Page.navigate", {"url": url}, session)
        self._targets[session] = target
        return session

    def close_tab(self, session):
        target = self._targets.pop(session, None)
        if target:
            self.send("Target.closeTarget", {"targetId": target})

    def external_requests(self):
        """Requests that left the machine: anything but file:, data:, blob: and about:."""
        return [u for u in self.requests if not u.startswith(("file:", "data:", "blob:", "about:"))]

    def evaluate(self, session, expression):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, session)
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript error: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, session, expression, timeout=30.0):
        """Poll a JavaScript expression until it is truthy (or the timeout); return its value."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(session, expression)
            except RuntimeError:
                value = None
            if value:
                return value
            time.sleep(0.2)
        return value

    def screenshot(self, session, path):
        data = self.send("Page.captureScreenshot", {"format": "png"}, session)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except (OSError, TimeoutError, RuntimeError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        shutil.rmtree(self._profile, ignore_errors=True)
