"""A small driver for headless Chromium over the Chrome DevTools Protocol, for UI tests.

    import sys; sys.path.insert(0, "scripts")
    from cdp import Browser

    with Browser.launch() as browser:
        page = browser.new_page()
        page.goto("http://127.0.0.1:5000/")          # waits for the load event, raises on errors
        page.type("#search", "metrics.acc > 0.5")
        page.press("#search", "Enter")
        page.wait_for("document.querySelectorAll('tr.run').length > 0")
        assert not page.console_errors and not page.dialogs

Only the standard library and `websocket-client` are needed. One websocket to the browser carries
every page through flattened target sessions; a reader thread dispatches replies and events, so
events are recorded as they arrive and nothing is lost between calls. JavaScript dialogs are
dismissed as soon as they open, so an injected alert() never blocks a page but is still recorded.
"""
import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from urllib.parse import urlsplit

import websocket

__all__ = ["Browser", "Page", "CDPError", "BrowserClosedError", "NavigationError", "JSError"]


class CDPError(Exception):
    """A protocol command failed (the browser answered with an error)."""


class BrowserClosedError(CDPError):
    """The browser went away (crashed, was killed, or the connection was closed)."""


class NavigationError(Exception):
    """A navigation failed: a network error, or an HTTP error status of the main document."""

    def __init__(self, message, url, status=None, error_text=None):
        super().__init__(message)
        self.url = url
        self.status = status
        self.error_text = error_text


class JSError(Exception):
    """JavaScript evaluated in the page threw."""


# Flags: headless without GPU; as root the sandbox cannot start, hence --no-sandbox. The rest keep
# the browser from fetching anything the pages did not ask for (updates, sync, safe browsing,
# translation, metrics) and from throttling pages that are not in the foreground.
DEFAULT_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm; use /tmp instead
    "--disable-extensions",
    "--disable-component-extensions-with-background-pages",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--disable-crash-reporter",
    "--metrics-recording-only",
    "--safebrowsing-disable-auto-update",
    "--disable-features=Translate,OptimizationHints,MediaRouter,InterestFeedContentSuggestions,"
    "CalculateNativeWinOcclusion,AutofillServerCommunication,CertificateTransparencyComponentUpdater",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding",
    "--disable-ipc-flooding-protection",
    "--password-store=basic",
    "--use-mock-keychain",
    "--mute-audio",
    "--hide-scrollbars",
    "--force-color-profile=srgb",
]

# Key name -> (code, windowsVirtualKeyCode, text) for Input.dispatchKeyEvent. A key with text
# produces a keypress, which is what triggers implicit form submission on Enter.
_KEYS = {
    "Enter": ("Enter", 13, "\r"),
    "Tab": ("Tab", 9, ""),
    "Escape": ("Escape", 27, ""),
    "Backspace": ("Backspace", 8, ""),
    "Delete": ("Delete", 46, ""),
    "Space": ("Space", 32, " "),
    "ArrowLeft": ("ArrowLeft", 37, ""),
    "ArrowUp": ("ArrowUp", 38, ""),
    "ArrowRight": ("ArrowRight", 39, ""),
    "ArrowDown": ("ArrowDown", 40, ""),
    "Home": ("Home", 36, ""),
    "End": ("End", 35, ""),
}


class _Connection:
    """One websocket to the browser; commands are matched to replies by id, events go to handlers."""

    def __init__(self, ws_url, timeout):
        # No Origin header: Chromium refuses websocket clients that send one it does not allow.
        self._ws = websocket.create_connection(ws_url, timeout=timeout, suppress_origin=True)
        self._ws.settimeout(None)  # the reader blocks; command timeouts are enforced by waiters
        self._ids = itertools.count(1)
        self._send_lock = threading.Lock()
        self._pending = {}  # id -> [threading.Event, message or None]
        self._handlers = {}  # sessionId ("" for the browser) -> callable(method, params)
        self.cond = threading.Condition()  # notified on every event, for state waits in pages
        self.closed_reason = None
        self._reader = threading.Thread(target=self._read, name="cdp-reader", daemon=True)
        self._reader.start()

    def _read(self):
        try:
            while True:
                raw = self._ws.recv()
                if not raw:
                    raise websocket.WebSocketConnectionClosedException("connection closed")
                msg = json.loads(raw)
                if "id" in msg:
                    slot = self._pending.pop(msg["id"], None)
                    if slot is not None:
                        slot[1] = msg
                        slot[0].set()
                else:
                    handler = self._handlers.get(msg.get("sessionId", ""))
                    if handler is not None:
                        try:
                            handler(msg["method"], msg.get("params", {}))
                        except Exception as e:  # a handler bug must not kill the reader
                            print(f"cdp: event handler failed on {msg['method']}: {e!r}")
                with self.cond:
                    self.cond.notify_all()
        except Exception as e:
            self._fail(f"connection to the browser lost ({e.__class__.__name__}: {e})")

    def _fail(self, reason):
        if self.closed_reason is None:
            self.closed_reason = reason
        for slot in list(self._pending.values()):
            slot[0].set()
        self._pending.clear()
        with self.cond:
            self.cond.notify_all()

    def check(self):
        if self.closed_reason is not None:
            raise BrowserClosedError(self.closed_reason)

    def _write(self, msg_id, method, params, session_id):
        msg = {"id": msg_id, "method": method, "params": params or {}}
        if session_id:
            msg["sessionId"] = session_id
        try:
            with self._send_lock:
                self._ws.send(json.dumps(msg))
        except Exception as e:
            self._fail(f"cannot send to the browser ({e.__class__.__name__}: {e})")

    def post(self, method, params=None, session_id=None):
        """Sends a command without waiting for its reply (usable from event handlers)."""
        self.check()
        self._write(next(self._ids), method, params, session_id)
        self.check()

    def send(self, method, params=None, session_id=None, timeout=30):
        """Sends a command and returns its result; raises CDPError, BrowserClosedError or TimeoutError."""
        self.check()
        slot = [threading.Event(), None]
        msg_id = next(self._ids)
        self._pending[msg_id] = slot
        if self.closed_reason is not None:  # closed between check() and registering the slot
            slot[0].set()
        self._write(msg_id, method, params, session_id)
        if not slot[0].wait(timeout):
            self._pending.pop(msg_id, None)
            raise TimeoutError(f"{method}: no reply from the browser within {timeout}s")
        reply = slot[1]
        if reply is None:
            self.check()
            raise BrowserClosedError(f"{method}: connection closed before the reply")
        if "error" in reply:
            err = reply["error"]
            raise CDPError(f"{method}: {err.get('message')} {err.get('data', '')}".rstrip())
        return reply.get("result", {})

    def on(self, session_id, handler):
        self._handlers[session_id] = handler

    def off(self, session_id):
        self._handlers.pop(session_id, None)

    def close(self):
        self._fail("connection closed")
        try:
            self._ws.abort()  # unblocks the reader's recv
            self._ws.shutdown()
        except Exception:
            pass
        self._reader.join(2)


class Browser:
    """A headless Chromium process and the websocket to it. Use as a context manager."""

    def __init__(self, process, profile_dir, connection, width, height, timeout):
        self.process = process
        self.profile_dir = profile_dir
        self.conn = connection
        self.width = width
        self.height = height
        self.timeout = timeout
        self.pages = []

    @classmethod
    def launch(cls, chromium="/usr/bin/chromium", width=1280, height=800, timeout=30,
               extra_args=(), start_timeout=30):
        """Starts Chromium on a new temporary profile and connects to it.

        `timeout` is the default for commands; `start_timeout` bounds waiting for the DevTools port.
        """
        profile_dir = tempfile.mkdtemp(prefix="cdp-profile-")
        log_path = os.path.join(profile_dir, "chromium.log")
        process = None
        try:
            args = [chromium, *DEFAULT_FLAGS, f"--window-size={width},{height}",
                    f"--user-data-dir={profile_dir}", "--remote-debugging-port=0",
                    *extra_args, "about:blank"]
            with open(log_path, "wb") as log:
                # A new session so that the whole process group (launcher script, zygotes,
                # renderers) can be killed at once.
                process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                           start_new_session=True)
            ws_url = cls._wait_for_port(process, profile_dir, log_path, start_timeout)
            conn = _Connection(ws_url, timeout)
            return cls(process, profile_dir, conn, width, height, timeout)
        except BaseException:
            cls._kill(process)
            shutil.rmtree(profile_dir, ignore_errors=True)
            raise

    @staticmethod
    def _wait_for_port(process, profile_dir, log_path, timeout):
        # With --remote-debugging-port=0 Chromium picks a free port and writes "port\npath" here.
        port_file = os.path.join(profile_dir, "DevToolsActivePort")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise BrowserClosedError(f"chromium exited with {process.returncode} at start:\n"
                                         + _tail(log_path))
            try:
                with open(port_file) as f:
                    lines = f.read().split("\n")
                if len(lines) >= 2 and lines[0].strip() and lines[1].strip():
                    return f"ws://127.0.0.1:{lines[0].strip()}{lines[1].strip()}"
            except FileNotFoundError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"chromium did not open its DevTools port within {timeout}s:\n"
                           + _tail(log_path))

    @staticmethod
    def _kill(process):
        if process is None:
            return
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(5)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                pass
        # Also when the main process already died: its helpers (zygotes, renderers) share its
        # process group and must not be left behind.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()

    def new_page(self, ignore_favicon=True):
        """Opens a new tab, attached through a flattened session, with the viewport set.

        The browser fetches /favicon.ico by itself, after the load event; a 404 there would land in
        `console_errors` at an unpredictable moment, so by default it is not recorded."""
        target_id = self.conn.send("Target.createTarget", {"url": "about:blank"},
                                   timeout=self.timeout)["targetId"]
        session_id = self.conn.send("Target.attachToTarget",
                                    {"targetId": target_id, "flatten": True},
                                    timeout=self.timeout)["sessionId"]
        page = Page(self, target_id, session_id, ignore_favicon)
        self.pages.append(page)
        return page

    def log_tail(self, lines=40):
        """The end of Chromium's own stderr, for diagnosing crashes."""
        return _tail(os.path.join(self.profile_dir, "chromium.log"), lines)

    def close(self):
        try:
            if self.conn.closed_reason is None:
                try:
                    self.conn.send("Browser.close", timeout=5)
                except Exception:
                    pass
            self.conn.close()
        finally:
            self._kill(self.process)
            # Chromium may still be flushing files when it exits; retry briefly.
            for _ in range(10):
                shutil.rmtree(self.profile_dir, ignore_errors=True)
                if not os.path.exists(self.profile_dir):
                    break
                time.sleep(0.1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class Page:
    """One tab. Console errors, uncaught exceptions, failed loads and dialogs are recorded as they
    happen, in `console_errors` and `dialogs`; `status` is the HTTP status of the main document."""

    def __init__(self, browser, target_id, session_id, ignore_favicon=True):
        self.browser = browser
        self.ignore_favicon = ignore_favicon
        self.conn = browser.conn
        self.target_id = target_id  # also the id of the main frame
        self.session_id = session_id
        self.timeout = browser.timeout
        self.console_errors = []
        self.dialogs = []
        self.status = None
        self.url = "about:blank"  # of the last main document response (after redirects)
        self.closed = False
        self.closed_reason = None
        self._responses = {}  # loaderId -> status of its main-frame document
        self._loaded = set()  # loaderIds whose load event fired
        self.conn.on(session_id, self._on_event)
        for method in ("Page.enable", "Runtime.enable", "Log.enable", "Network.enable"):
            self._send(method)
        self._send("Page.setLifecycleEventsEnabled", {"enabled": True})
        self._send("Emulation.setDeviceMetricsOverride",
                   {"width": browser.width, "height": browser.height,
                    "deviceScaleFactor": 1, "mobile": False})

    # -- events (reader thread) --

    def _on_event(self, method, p):
        if method == "Runtime.consoleAPICalled":
            if p["type"] in ("error", "assert"):
                text = " ".join(_remote_object_text(a) for a in p.get("args", []))
                self.console_errors.append(f"console.{p['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            self.console_errors.append("uncaught: " + _exception_text(p["exceptionDetails"]))
        elif method == "Log.entryAdded":
            entry = p["entry"]
            url = entry.get("url")
            if self.ignore_favicon and url and urlsplit(url).path == "/favicon.ico":
                return
            if entry.get("level") == "error":
                self.console_errors.append(entry.get("text", "") + (f" ({url})" if url else ""))
        elif method == "Page.javascriptDialogOpening":
            self.dialogs.append(p.get("message", ""))
            # Dismiss without waiting for the reply: this runs on the reader thread.
            try:
                self.conn.post("Page.handleJavaScriptDialog", {"accept": False}, self.session_id)
            except CDPError:
                pass
        elif method == "Network.responseReceived":
            if p.get("type") == "Document" and p.get("frameId") == self.target_id:
                self._responses[p["loaderId"]] = p["response"]["status"]
                self.status = p["response"]["status"]
                self.url = p["response"].get("url", self.url)
        elif method == "Page.lifecycleEvent":
            if p.get("name") == "load" and p.get("frameId") == self.target_id:
                self._loaded.add(p["loaderId"])
        elif method == "Inspector.targetCrashed":
            self.console_errors.append("renderer crashed")
            self.closed, self.closed_reason = True, "renderer crashed"
        elif method == "Inspector.detached":
            self.closed, self.closed_reason = True, p.get("reason", "detached")

    # -- commands --

    def _send(self, method, params=None, timeout=None):
        self.conn.check()
        if self.closed:
            if self.browser.process.poll() is not None:
                raise BrowserClosedError(f"{method}: chromium exited with "
                                         f"{self.browser.process.returncode}")
            raise CDPError(f"{method}: the page is closed or crashed ({self.closed_reason})")
        return self.conn.send(method, params, self.session_id, timeout or self.timeout)

    def _wait_until(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        with self.conn.cond:
            while not predicate():
                self.conn.check()
                if self.closed:
                    raise CDPError(f"{what}: the page is closed or crashed ({self.closed_reason})")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{what}: timed out after {timeout}s")
                self.conn.cond.wait(min(left, 0.5))

    def goto(self, url, timeout=30, check_status=True):
        """Navigates and waits for the load event of the new document. Raises NavigationError on a
        network error, or (with check_status) when the main document answered with status >= 400;
        `page.status` holds the status either way. Returns the status."""
        deadline = time.monotonic() + timeout
        try:
            # Replies once the response is in (or the navigation failed), not at load.
            result = self._send("Page.navigate", {"url": url}, timeout=timeout)
        except TimeoutError:
            raise TimeoutError(f"navigation to {url}: no response within {timeout}s") from None
        loader_id = result.get("loaderId")
        error_text = result.get("errorText")
        status = self._responses.get(loader_id) if loader_id else None
        if error_text and not (error_text == "net::ERR_HTTP_RESPONSE_CODE_FAILURE" and status):
            # HTTP error pages without a body surface as ERR_HTTP_RESPONSE_CODE_FAILURE; those
            # are reported by status below, everything else is a network-level failure.
            raise NavigationError(f"navigation to {url} failed: {error_text}", url,
                                  status=status, error_text=error_text)
        if loader_id:  # no loader for same-document navigations (fragment changes)
            self._wait_until(lambda: loader_id in self._loaded,
                             max(0.0, deadline - time.monotonic()), f"load of {url}")
            status = self._responses.get(loader_id)
            self.status = status
        else:
            self.url = url
        if check_status and status is not None and status >= 400:
            raise NavigationError(f"navigation to {url}: HTTP {status}", url, status=status,
                                  error_text=error_text)
        return status

    def evaluate(self, expression, timeout=None):
        """Evaluates a JS expression (awaiting a returned promise) and returns its JSON value."""
        result = self._send("Runtime.evaluate",
                            {"expression": expression, "returnByValue": True,
                             "awaitPromise": True, "userGesture": True},
                            timeout=timeout)
        if "exceptionDetails" in result:
            raise JSError(f"{_exception_text(result['exceptionDetails'])}\n  in: {expression}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression, timeout=10, interval=0.05):
        """Polls a JS expression (awaited if a promise) until it is truthy in JS. Exceptions and
        navigations while polling count as falsy. Raises TimeoutError naming the expression."""
        deadline = time.monotonic() + timeout
        last_error = None
        while True:
            try:
                # Truthiness is judged in JS: a DOM node, say, serializes to a falsy {}.
                if self.evaluate(f"(async () => !!(\n{expression}\n))()",
                                 timeout=max(1.0, deadline - time.monotonic())):
                    return True
                last_error = None
            except BrowserClosedError:
                raise
            except (JSError, CDPError, TimeoutError) as e:
                last_error = e  # e.g. the context was destroyed by a navigation in progress
            if time.monotonic() >= deadline:
                detail = f" (last error: {last_error})" if last_error else ""
                raise TimeoutError(f"wait_for({expression!r}) still falsy after {timeout}s{detail}")
            time.sleep(interval)

    def _element_call(self, selector, body, what):
        ok = self.evaluate(f"""(() => {{
            const el = document.querySelector({json.dumps(selector)});
            if (!el) return false;
            {body}
            return true;
        }})()""")
        if not ok:
            raise LookupError(f"{what}: no element matches {selector!r}")

    def click(self, selector):
        """Clicks the first element matching the CSS selector (HTMLElement.click())."""
        self._element_call(selector, "el.scrollIntoView({block: 'center'}); el.click();", "click")

    def type(self, selector, text):
        """Replaces the value of an input/textarea and fires 'input' and 'change' like a user edit."""
        # The prototype's value setter, so frameworks that override `value` still see the change.
        self._element_call(selector, f"""
            el.focus();
            const proto = Object.getPrototypeOf(el);
            const setter = Object.getOwnPropertyDescriptor(proto, 'value')?.set;
            if (setter) setter.call(el, {json.dumps(text)}); else el.value = {json.dumps(text)};
            el.dispatchEvent(new Event('input', {{bubbles: true}}));
            el.dispatchEvent(new Event('change', {{bubbles: true}}));
        """, "type")

    def press(self, selector, key):
        """Focuses the element and sends a real key press (keyDown + keyUp) through the input
        pipeline, so default actions happen: Enter in a text field submits its form."""
        self._element_call(selector, "el.focus();", "press")
        if key in _KEYS:
            code, vk, text = _KEYS[key]
        elif len(key) == 1:
            code, vk, text = ("Key" + key.upper() if key.isalpha() else ""), ord(key.upper()), key
        else:
            raise ValueError(f"unknown key {key!r}")
        down = {"type": "keyDown" if text else "rawKeyDown", "key": key, "code": code,
                "windowsVirtualKeyCode": vk, "nativeVirtualKeyCode": vk}
        if text:
            down.update(text=text, unmodifiedText=text)
        self._send("Input.dispatchKeyEvent", down)
        self._send("Input.dispatchKeyEvent", {"type": "keyUp", "key": key, "code": code,
                                              "windowsVirtualKeyCode": vk,
                                              "nativeVirtualKeyCode": vk})

    def screenshot(self, path):
        """Writes a PNG of the viewport (width x height from the browser) to path."""
        data = self._send("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path

    def close(self):
        if self.closed and self.session_id not in self.conn._handlers:
            return
        self.closed = True
        self.conn.off(self.session_id)
        if self in self.browser.pages:
            self.browser.pages.remove(self)
        try:
            self.conn.send("Target.closeTarget", {"targetId": self.target_id}, timeout=self.timeout)
        except CDPError:
            pass  # already gone


def _remote_object_text(obj):
    if "value" in obj:
        v = obj["value"]
        return v if isinstance(v, str) else json.dumps(v)
    return obj.get("description") or obj.get("unserializableValue") or obj.get("type", "")


def _exception_text(details):
    exc = details.get("exception") or {}
    if "value" in exc:  # a non-Error value was thrown
        return f"{details.get('text', 'Uncaught')} {_remote_object_text(exc)}"
    text = exc.get("description") or details.get("text", "exception")
    # The description of an Error includes its stack; the first line is the message.
    return text.split("\n")[0] if exc.get("subtype") == "error" else text


def _tail(path, lines=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""
