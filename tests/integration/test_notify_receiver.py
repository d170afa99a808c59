"""A real HTTP receiver on 127.0.0.1 standing in for every channel's API, and the helpers the notify tests share.

`Receiver` is a stdlib ``ThreadingHTTPServer`` in a thread. It records every request (method, path, raw query,
headers, body, the time by the test's clock) and answers from a per-path script of `Reply` values, falling
back to a default per path prefix, so a test can make a receiver fail, throttle or stall on cue. The other
``test_notify_*`` integration modules import it from here; the tests below check the receiver itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from fleetdeck.core.errors import ConfigIssue
from fleetdeck.core.notify import Notice, Notifier, NotifyConfig, load_notify

Json = dict[str, Any]


@dataclass(frozen=True)
class Reply:
    """One scripted answer; ``body`` may be bytes, text or a JSON-ready dict."""

    status: int = 200
    body: bytes | str | Json = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def payload(self) -> bytes:
        if isinstance(self.body, dict):
            return json.dumps(self.body).encode()
        return self.body.encode() if isinstance(self.body, str) else self.body


@dataclass(frozen=True)
class Seen:
    """One request as the receiver got it, and what it answered."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float

    def json(self) -> Any:
        return json.loads(self.body)

    def params(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.query, keep_blank_values=True))


class Receiver:
    """Records requests and answers from a script; ``clock`` stamps them (a test's fake clock, or real time)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.seen: list[Seen] = []
        self.arrived = 0
        """Requests read so far, counted before any scripted delay (``seen`` fills after it, just before the answer)."""
        self._scripts: dict[str, deque[Reply]] = {}
        self._defaults: dict[str, Reply] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                path, _, query = self.path.partition("?")
                with receiver._lock:
                    receiver.arrived += 1
                reply = receiver._reply_for(path)
                if reply.delay:
                    time.sleep(reply.delay)
                # Recorded before the answer goes out: the client may act on the answer (and the test look
                # at ``seen``) before this thread runs again.
                seen = Seen(
                    "POST",
                    path,
                    query,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    reply.status,
                    receiver.clock(),
                )
                with receiver._lock:
                    receiver.seen.append(seen)
                data = reply.payload()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="notify-receiver", daemon=True
        )

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def script(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to ``path`` with these, in order."""
        with self._lock:
            self._scripts.setdefault(path, deque()).extend(replies)

    def default(self, prefix: str, reply: Reply) -> None:
        """Answer requests under ``prefix`` with ``reply`` once their script is used up."""
        with self._lock:
            self._defaults[prefix] = reply

    def _reply_for(self, path: str) -> Reply:
        with self._lock:
            script = self._scripts.get(path)
            if script:
                return script.popleft()
            prefixes = [p for p in self._defaults if path.startswith(p)]
            return self._defaults[max(prefixes, key=len)] if prefixes else Reply()

    def requests(self, prefix: str = "") -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path.startswith(prefix)]

    async def wait(self, count: int, prefix: str = "", timeout: float = 10.0) -> list[Seen]:
        """Wait until at least ``count`` requests under ``prefix`` have been recorded (their answers on the way)."""
        deadline = time.monotonic() + timeout
        while len(found := self.requests(prefix)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} requests under {prefix!r}, got {len(found)}: {found}")
            await asyncio.sleep(0.01)
        return found


class FakeClock:
    """Epoch seconds that move only when the test says."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


FAST_DELIVERY = '[delivery]\nretry_initial = "50ms"\nretry_max = "200ms"\ntimeout = "5s"\n'


def notify_config(
    body: str, *, defaults: str = 'group_wait = 0\ngroup_by = ["..."]\n', top: str = "", delivery: str = FAST_DELIVERY
) -> NotifyConfig:
    """A config from TOML text with no problems; the default route sends everything to every channel listed."""
    issues: list[ConfigIssue] = []
    data = tomllib.loads(body)
    names = [c["name"] for c in data.get("channels", [])]
    text = f"{top}\n[defaults]\nchannels = {json.dumps(names)}\n{defaults}{delivery}"
    config = load_notify(tomllib.loads(text + body), issues)
    assert issues == [], issues
    return config


@contextlib.asynccontextmanager
async def running(notifier: Notifier) -> AsyncIterator[asyncio.Task[None]]:
    """Run a notifier for the block, then cancel it the way a daemon stops; its own errors are raised."""
    task = asyncio.create_task(notifier.run())
    await asyncio.sleep(0)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def firing(
    host: str = "web01", rule: str = "HighCPU", severity: str = "critical", text: str = "cpu 93% for 5m", **kw: Any
) -> Notice:
    return Notice(
        kind="firing",
        title=f"High CPU on {host}",
        text=text,
        severity=severity,
        host=host,
        rule=rule,
        started=time.time() - 300,
        **kw,
    )


async def until(check: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll ``check`` until it is true (the notifier records outcomes just after the receiver answers)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def test_receiver_records_and_answers_from_its_script(receiver: Receiver) -> None:
    receiver.default("/x", Reply(200, {"ok": True}))
    receiver.script("/x/y", Reply(503, "busy", {"Retry-After": "1"}))

    def post(path: str) -> tuple[int, bytes, str | None]:
        request = urllib.request.Request(receiver.url(path + "?a=1"), data=b'{"n":1}', method="POST")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read(), response.headers.get("Retry-After")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), exc.headers.get("Retry-After")

    assert post("/x/y") == (503, b"busy", "1")
    assert post("/x/y") == (200, b'{"ok": true}', None)
    assert post("/other") == (200, b"", None)
    first = receiver.requests("/x")[0]
    assert (first.path, first.params(), first.json(), first.status) == ("/x/y", {"a": "1"}, {"n": 1}, 503)
