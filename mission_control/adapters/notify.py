"""Sending notifications: to the attached terminals (OSC 777 / OSC 9), `notify-send`, a webhook.

The supervisor hands each notice to `Notifier.send`, which only puts it on a queue: one thread
of the notifier's own writes to the terminals, runs `notify-send` and POSTs the webhook, with a
timeout and retries, so a slow or dead webhook never delays a tick. The queue is bounded: past
`QUEUE_SIZE` waiting notices new ones are dropped (and counted), never the tick blocked.
What a notice says is decided in core/notify.py (text, scrubbing, rate limit).
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import shutil
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Callable, Sequence

from mission_control.adapters.run import CommandError, run
from mission_control.core.notify import Notice, for_client, osc_notifications, payload

QUEUE_SIZE = 200
"""Notices waiting to be sent at most."""
NOTIFY_SEND_TIMEOUT = 5.0


@dataclass(frozen=True)
class Delivery:
    """One notice with where it goes, as the tick saw it."""

    notice: Notice
    clients: tuple[tuple[str, str], ...] = ()
    """(tty, terminal name) of each person's tmux client."""
    held: int = 0
    """Notices about this agent held back by the rate limit since the last one sent."""


@dataclass
class WebhookResult:
    """What the last webhook request came to (for tests and the supervisor's window)."""

    ok: bool
    tries: int
    detail: str


def post_json(url: str, body: dict, timeout: float, retries: int, retry_base: float = 1.0,
              sleep: Callable[[float], None] = time.sleep) -> WebhookResult:
    """POST `body` as JSON; tried again (1 s, 2 s, 4 s ... apart) when there is no answer or a
    5xx/429 one. A 2xx is done; any other answer is final (retrying a 4xx changes nothing)."""
    data = json.dumps(body).encode()
    detail = ""
    for attempt in range(retries + 1):
        if attempt:
            sleep(retry_base * 2 ** (attempt - 1))
        try:
            request = urllib.request.Request(url, data=data, method="POST", headers={
                "Content-Type": "application/json", "User-Agent": "mission-control"})
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                answer.read(1 << 16)
                return WebhookResult(True, attempt + 1, f"HTTP {answer.status}")
        except urllib.error.HTTPError as exc:
            detail = f"HTTP {exc.code}"
            if exc.code < 500 and exc.code != 429:
                return WebhookResult(False, attempt + 1, detail)
        except (ValueError, http.client.InvalidURL):  # a URL urllib cannot read (its message may quote the URL's password): final
            return WebhookResult(False, attempt + 1, "the URL cannot be used (its host or port cannot be read)")
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:  # refused, timed out, reset, garbage
            reason = getattr(exc, "reason", exc)
            detail = f"no answer: {reason}"
    return WebhookResult(False, retries + 1, detail)


def write_to_tty(tty: str, data: bytes) -> bool:
    """Write to a terminal without waiting on it and without making it ours."""
    try:
        fd = os.open(tty, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        os.write(fd, data)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


@dataclass
class Notifier:
    """The notifications of one fleet, sent by a thread of their own."""

    session: str
    dashboard_hint: str
    url: str | None = None
    timeout: float = 5.0
    retries: int = 3
    desktop: bool = True
    retry_base: float = 1.0
    notify_send: str | None = field(default_factory=lambda: shutil.which("notify-send"))
    say: Callable[[str], None] = lambda line: print(f"mission-control supervise: {line}", file=sys.stderr, flush=True)
    results: list[WebhookResult] = field(default_factory=list)
    """The webhook's outcomes, newest last (the last 50)."""
    dropped: int = 0
    _queue: "queue.Queue[Delivery | None]" = field(default_factory=lambda: queue.Queue(QUEUE_SIZE))
    _thread: threading.Thread | None = None

    @property
    def wanted(self) -> bool:
        """Whether there is anywhere to send to."""
        return bool(self.url) or self.desktop

    def send(self, delivery: Delivery) -> None:
        """Queue it (never waits: a full queue drops it)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="mission-control-notify", daemon=True)
            self._thread.start()
        try:
            self._queue.put_nowait(delivery)
        except queue.Full:
            self.dropped += 1

    def close(self, wait: float = 0.0) -> None:
        """Stop the thread (after what is queued, for at most `wait` seconds)."""
        if self._thread is not None:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                pass
            self._thread.join(wait)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                self._deliver(item)
            except Exception as exc:  # a notification must never end the thread
                self.say(f"notification failed: {exc!r}")

    def _deliver(self, item: Delivery) -> None:
        notice = item.notice
        title, body = notice.title, notice.body + (f" (+{item.held} more)" if item.held else "")
        if self.desktop:
            data = osc_notifications(title, body)
            for tty, term in item.clients:
                write_to_tty(tty, for_client(data, term))
            if self.notify_send:
                try:
                    run([self.notify_send, "--app-name=mission-control", "--", title, body], timeout=NOTIFY_SEND_TIMEOUT, check=False)
                except CommandError:
                    pass
        if self.url:
            body_json = payload(notice, self.session, self.dashboard_hint)
            if item.held:
                body_json["held_back"] = item.held
            result = post_json(self.url, body_json, self.timeout, self.retries, self.retry_base)
            self.results = [*self.results[-49:], result]
            if not result.ok:  # the URL may hold a token: never said
                self.say(f"webhook for {notice.agent} failed after {result.tries} tries: {result.detail}")


def client_ttys(rows: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """(tty, terminal name) of each person's client, from `list-clients` lines of
    `tty<TAB>termname<TAB>control_mode` (the supervisor's own control client left out)."""
    out = []
    for row in rows:
        parts = row.split("\t")
        if len(parts) == 3 and parts[2] != "1" and parts[0].startswith("/dev/"):
            out.append((parts[0], parts[1]))
    return tuple(out)
