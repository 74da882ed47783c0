"""Sending finished ``run_group`` groups back to OIOIOI.

A finished group is POSTed to its ``return_url`` as sioworkersd does it: one
``multipart/form-data`` field ``data`` holding the group's JSON, with
``User-Agent: sioworkersd``.  Only an HTTP 200 answer counts as delivered
(OIOIOI's ``receive_from_workers`` answers 200 once it stored the result);
anything else — another status, a refused or dropped connection, no answer
within ``timeout`` — is retried after a back-off that starts at ``initial``
seconds and doubles up to ``cap`` (default 1 s, 2 s, 4 s, ... every 5 min).
A delivery not accepted within ``give_up`` seconds of the group finishing
(default 7 days) is logged with its group id and dropped.

Deliveries are sent by a pool of threads, with at most ``per_url`` attempts
at once to any one ``return_url``, so a receiver that hangs or is down
delays only its own results.  The body stays in the state database until
the delivery succeeds or is dropped; it is read back for every attempt.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sio_ray.gateway.store import Delivery, Store

logger = logging.getLogger(__name__)

USER_AGENT = 'sioworkersd'


@dataclass(frozen=True)
class RetryPolicy:
    """When failed deliveries are tried again, and for how long."""
    #: Seconds before the first retry; each further one waits twice as long.
    initial: float = 1.0
    #: The longest wait between two attempts (s).
    cap: float = 300.0
    #: Seconds after the group finished when an undelivered result is dropped.
    give_up: float = 7 * 24 * 3600.0
    #: Seconds one attempt may take (connecting, sending, waiting for the answer).
    timeout: float = 30.0

    def __post_init__(self):
        for name in ('initial', 'cap', 'give_up', 'timeout'):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f'retry policy: {name} must be a positive number of seconds, '
                                 f'not {value!r}')

    def delay(self, attempts: int) -> float:
        """The wait after the ``attempts``-th failed attempt."""
        return min(self.cap, self.initial * 2 ** min(max(attempts - 1, 0), 60))


def multipart(data: str) -> tuple[bytes, str]:
    """The body of a form with the one field ``data``, and its content type."""
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="data"\r\n\r\n'
            f'{data}\r\n--{boundary}--\r\n').encode('utf-8')
    return body, f'multipart/form-data; boundary={boundary}'


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def post(url: str, data: str, timeout: float) -> None:
    """POST ``data`` as form field ``data``; raise unless the answer is 200."""
    body, content_type = multipart(data)
    request = urllib.request.Request(url, data=body, method='POST', headers={
        'Content-Type': content_type, 'User-Agent': USER_AGENT})
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read()
            if response.status != 200:
                raise OSError(f'HTTP {response.status}')
    except urllib.error.HTTPError as exc:
        exc.close()
        raise OSError(f'HTTP {exc.code}') from None


class Deliverer:
    """Sends deliveries, retries them, drops those past ``give_up``."""

    def __init__(self, store: Store, policy: RetryPolicy = RetryPolicy(), threads: int = 8,
                 per_url: int = 2):
        self.store = store
        self.policy = policy
        self.per_url = per_url
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix='gateway-delivery')
        self._cond = threading.Condition()
        self._due: list[tuple[float, int, Delivery]] = []  # (when, tie-breaker, delivery)
        self._order = itertools.count()
        self._busy: dict[str, int] = {}  # return_url -> attempts running
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name='gateway-deliveries', daemon=True)

    def start(self) -> None:
        self._thread.start()

    def add(self, delivery: Delivery, when: float | None = None) -> None:
        """Send ``delivery`` (already in the database) at ``when`` (now by default)."""
        with self._cond:
            heapq.heappush(self._due, (when or time.monotonic(), next(self._order), delivery))
            self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._due) + sum(self._busy.values())

    def stop(self) -> None:
        """Stop sending (undelivered results stay in the database)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(10)
        # Attempts under way are not waited for: what they do not finish is
        # sent again after a restart.
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    now = time.monotonic()
                    ready = self._take_ready(now)
                    if ready is not None:
                        break
                    if not self._due:
                        self._cond.wait()
                    elif self._due[0][0] > now:
                        self._cond.wait(self._due[0][0] - now)
                    else:  # due, but its return_url has all its attempts running
                        self._cond.wait(0.5)
                if self._stopping:
                    return
                self._busy[ready.return_url] = self._busy.get(ready.return_url, 0) + 1
            self._pool.submit(self._attempt, ready)

    def _take_ready(self, now: float) -> Delivery | None:
        """The first due delivery whose ``return_url`` has a free attempt slot."""
        skipped = []
        found = None
        while self._due and self._due[0][0] <= now:
            entry = heapq.heappop(self._due)
            if self._busy.get(entry[2].return_url, 0) < self.per_url:
                found = entry[2]
                break
            skipped.append(entry)
        for entry in skipped:
            heapq.heappush(self._due, entry)
        return found

    def _attempt(self, delivery: Delivery) -> None:
        error = None
        try:
            body = self.store.delivery_body(delivery.id)
            if body is not None:  # None: delivered or dropped already
                post(delivery.return_url, body, self.policy.timeout)
        except Exception as exc:
            error = f'{type(exc).__name__}: {exc}' if not isinstance(exc, OSError) else str(exc)
        with self._cond:
            self._busy[delivery.return_url] -= 1
            if not self._busy[delivery.return_url]:
                del self._busy[delivery.return_url]
            self._cond.notify()
        if error is None:
            logger.info('delivered %s to %s', delivery.group_id, delivery.return_url)
            self.store.write(lambda conn: conn.execute(
                'DELETE FROM deliveries WHERE id = ?', (delivery.id,)))
            return
        attempts = delivery.attempts + 1
        if time.time() - delivery.created >= self.policy.give_up:
            logger.error('dropping the result of %s: %s did not take it within %g s '
                         '(%d attempts; last: %s)', delivery.group_id, delivery.return_url,
                         self.policy.give_up, attempts, error)
            self.store.write(lambda conn: conn.execute(
                'DELETE FROM deliveries WHERE id = ?', (delivery.id,)))
            return
        delay = self.policy.delay(attempts)
        logger.warning('delivering %s to %s failed (attempt %d: %s); next attempt in %g s',
                       delivery.group_id, delivery.return_url, attempts, error, delay)
        self.store.write(lambda conn: conn.execute(
            'UPDATE deliveries SET attempts = ?, last_error = ? WHERE id = ?',
            (attempts, error, delivery.id)))
        retry = Delivery(delivery.id, delivery.group_id, delivery.return_url, delivery.created,
                         attempts)
        remaining = delivery.created + self.policy.give_up - time.time()
        self.add(retry, time.monotonic() + max(0.0, min(delay, remaining)))
