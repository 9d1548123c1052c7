"""Self-test of scripts/cdp.py against a local http.server with generated pages.

    ~/.cache/conformance-venv/bin/python scripts/cdp_selftest.py [--chromium /usr/bin/chromium]

Exits 0 and prints one summary line when every feature works; raises on the first failure.
"""
import argparse
import os
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser, BrowserClosedError, JSError, NavigationError  # noqa: E402


def html(title, body):
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title></head>"
            f"<body>{body}</body></html>")


PAGES = {
    "/index.html": html("Index", """
        <h1 id=h>Hello</h1>
        <button id=btn onclick="count.textContent = +count.textContent + 1">+1</button>
        <span id=count>0</span>
        <input id=name>
        <script>
          window.events = [];
          const name = document.getElementById('name');
          name.addEventListener('input', () => events.push('input:' + name.value));
          name.addEventListener('change', () => events.push('change:' + name.value));
          setTimeout(() => { const d = document.createElement('div'); d.id = 'late'; document.body.append(d); }, 300);
        </script>"""),
    "/console.html": html("Console", "<script>console.log('fine'); console.error('boom from console', 42)</script>"),
    "/throw.html": html("Throw", "<script>throw new Error('kaboom')</script>"),
    "/alert.html": html("Alert", "<script>alert('x'); confirm('sure?'); document.title = 'after dialogs'</script>"),
    "/form.html": html("Form", """
        <form action=/submitted method=get><input id=q name=q></form>"""),
    "/img404.html": html("Image", "<img src=/missing.png alt=missing>"),
}


READY = "document.readyState === 'complete'"


class Handler(BaseHTTPRequestHandler):
    requested = []

    def do_GET(self):
        url = urlparse(self.path)
        Handler.requested.append(url.path)
        if url.path in PAGES:
            self._send(200, PAGES[url.path])
        elif url.path == "/submitted":
            q = parse_qs(url.query).get("q", [""])[0]
            # Echoed unescaped: the value the test submits is plain text.
            self._send(200, html("Submitted", f"<p id=echo>{q}</p>"))
        else:
            self._send(404, html("Not found", "<h1>404</h1>"))

    def _send(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def processes_in_group(pgid):
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                # Fields after the parenthesized command: state ppid pgrp ...
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(pid))
    return pids


def expect(exc_type, fn, *fragments):
    try:
        fn()
    except exc_type as e:
        for fragment in fragments:
            assert fragment in str(e), f"{fragment!r} not in {e!r}"
        return e
    raise AssertionError(f"expected {exc_type.__name__}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    started = time.monotonic()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    checks = 0

    with tempfile.TemporaryDirectory() as tmp, Browser.launch(chromium=args.chromium) as browser:
        profile = browser.profile_dir
        page = browser.new_page()

        # goto, status, evaluate
        assert page.goto(base + "/index.html") == 200 and page.status == 200
        assert page.evaluate("document.title") == "Index"
        assert page.evaluate("1 + 2") == 3
        assert page.evaluate("({a: [1, 'b', null]})") == {"a": [1, "b", None]}
        assert page.evaluate("undefined") is None
        assert page.evaluate("new Promise(r => setTimeout(() => r(42), 50))") == 42
        expect(JSError, lambda: page.evaluate("null.x"), "TypeError", "null")
        expect(JSError, lambda: page.evaluate("Promise.reject(new Error('nope'))"), "nope")
        checks += 8

        # wait_for
        assert page.wait_for("document.getElementById('late')", timeout=5)
        expect(TimeoutError, lambda: page.wait_for("window.never === 1", timeout=0.3), "window.never === 1")
        checks += 2

        # click, type
        page.click("#btn")
        page.click("#btn")
        assert page.evaluate("document.getElementById('count').textContent") == "2"
        expect(LookupError, lambda: page.click("#nope"), "#nope")
        page.type("#name", "héllo \"quoted\"")
        assert page.evaluate("document.getElementById('name').value") == "héllo \"quoted\""
        assert page.evaluate("events") == ["input:héllo \"quoted\"", "change:héllo \"quoted\""]
        checks += 4

        # screenshot
        shot = page.screenshot(os.path.join(tmp, "shot.png"))
        with open(shot, "rb") as f:
            head = f.read(24)
        assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", head
        assert struct.unpack(">II", head[16:24]) == (1280, 800), struct.unpack(">II", head[16:24])
        checks += 1

        # Chromium fetches /favicon.ico on its own (a 404 here); that is not a page error.
        page.wait_for("true")
        deadline = time.monotonic() + 5
        while "/favicon.ico" not in Handler.requested and time.monotonic() < deadline:
            time.sleep(0.05)
        assert page.console_errors == [], page.console_errors
        assert page.dialogs == []

        # press Enter submits the form, which navigates to a new document
        page.goto(base + "/form.html")
        page.type("#q", "searched")
        page.press("#q", "Enter")
        page.wait_for("document.title === 'Submitted'", timeout=10)
        assert page.evaluate("document.getElementById('echo').textContent") == "searched"
        assert page.status == 200
        checks += 1

        # console.error
        page.goto(base + "/console.html")
        page.wait_for(READY)
        assert page.console_errors == ["console.error: boom from console 42"], page.console_errors
        checks += 1

        # uncaught exception
        page.console_errors.clear()
        page.goto(base + "/throw.html")
        page.wait_for(READY)
        errors = page.console_errors
        assert len(errors) == 1 and "Error: kaboom" in errors[0], errors
        checks += 1

        # failed subresource (404 image), reported through the Log domain
        page.console_errors.clear()
        page.goto(base + "/img404.html")
        page.wait_for(READY)
        errors = page.console_errors
        assert len(errors) == 1, errors
        assert "404" in errors[0] and "/missing.png" in errors[0], errors
        checks += 1

        # dialogs are recorded and dismissed; the page goes on running
        page.console_errors.clear()
        page.goto(base + "/alert.html", timeout=10)
        assert page.evaluate("document.title") == "after dialogs"
        assert page.dialogs == ["x", "sure?"], page.dialogs
        assert page.console_errors == [], page.console_errors
        checks += 1

        # HTTP error status and network errors
        e = expect(NavigationError, lambda: page.goto(base + "/nothing-here"), "404")
        assert e.status == 404 and page.status == 404
        assert page.goto(base + "/nothing-here", check_status=False) == 404
        e = expect(NavigationError, lambda: page.goto(f"http://127.0.0.1:{free_port()}/"),
                   "ERR_CONNECTION_REFUSED")
        checks += 3

        # a second page has its own state
        other = browser.new_page()
        other.goto(base + "/console.html")
        other.wait_for(READY)
        assert len(other.console_errors) == 1 and other.dialogs == []
        assert page.dialogs == ["x", "sure?"]
        other.close()
        checks += 1

        # a dead browser gives a clear error, not a hang
        pgid = browser.process.pid
        os.kill(pgid, signal.SIGKILL)  # like a crash: the helpers are left to __exit__
        t = time.monotonic()
        expect(BrowserClosedError, lambda: page.evaluate("1"))
        assert time.monotonic() - t < 5
        checks += 1

    assert not os.path.exists(profile), "profile directory left behind"
    assert not processes_in_group(pgid), f"chromium processes left behind: {processes_in_group(pgid)}"
    server.shutdown()
    print(f"cdp selftest: OK, {checks} checks in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main()
