"""Plain HTTP for the client: keep-alive connections per thread, retries with backoff and jitter.

Only the standard library: trainers run on images where installing packages is not an option.
"""

import http.client
import json
import random
import re
import socket
import ssl
import threading
import time
import urllib.parse

from .errors import CheckpointError

# Statuses worth another try: the service or storage is busy or briefly unreachable.
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class Response:
    """A fully read answer (bodies of API calls and blob writes are small)."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body.decode("utf-8")) if self.body else None


class RetryPolicy:
    """Exponential backoff with jitter; honours Retry-After when the server sends one."""

    def __init__(self, attempts=6, base_delay=0.5, max_delay=30.0, sleep=time.sleep):
        if attempts < 1:
            raise ValueError("attempts must be >= 1")
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.sleep = sleep

    def delay(self, attempt, retry_after=None):
        cap = min(self.max_delay, self.base_delay * (2 ** attempt))
        # Jitter spreads the retries of many ranks that failed at the same moment.
        wait = random.uniform(cap / 2, cap)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_delay))
        return wait


class Transport:
    """HTTP/1.1 with one keep-alive connection per (thread, origin)."""

    def __init__(self, timeout=120.0, ssl_context=None):
        self.timeout = timeout
        self._ssl = ssl_context or ssl.create_default_context()
        self._local = threading.local()
        self._all = set()  # every open connection, so close() reaches those of worker threads
        self._all_lock = threading.Lock()

    def _connection(self, scheme, netloc):
        conns = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = {}
        key = (scheme, netloc)
        conn = conns.get(key)
        if conn is None:
            if scheme == "https":
                conn = http.client.HTTPSConnection(netloc, timeout=self.timeout, context=self._ssl)
            elif scheme == "http":
                conn = http.client.HTTPConnection(netloc, timeout=self.timeout)
            else:
                raise ValueError("unsupported URL scheme: " + scheme)
            conns[key] = conn
            with self._all_lock:
                self._all.add(conn)
        return conn

    def _drop(self, scheme, netloc):
        conns = getattr(self._local, "conns", {})
        conn = conns.pop((scheme, netloc), None)
        if conn is not None:
            conn.close()
            with self._all_lock:
                self._all.discard(conn)

    def close(self):
        """Closes every connection; call when no request is running any more."""
        with self._all_lock:
            conns, self._all = self._all, set()
        for conn in conns:
            conn.close()

    def request(self, method, url, body=None, headers=None, sink=None):
        """One HTTP exchange. With ``sink``, a 2xx body is streamed to ``sink(chunk)`` instead of kept.

        Connection failures raise OSError or http.client.HTTPException; the caller decides on retries.
        """
        parts = urllib.parse.urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        conn = self._connection(parts.scheme, parts.netloc)
        hdrs = dict(headers or {})
        if body is None and method in ("PUT", "POST"):
            body = b""
        try:
            conn.request(method, target, body=body, headers=hdrs)
            resp = conn.getresponse()
            status = resp.status
            resp_headers = {k.lower(): v for k, v in resp.getheaders()}
            if sink is not None and 200 <= status < 300:
                while True:
                    chunk = resp.read(1 << 20)
                    if not chunk:
                        break
                    sink(chunk)
                data = b""
            else:
                data = resp.read()
            if resp.will_close:
                self._drop(parts.scheme, parts.netloc)
            return Response(status, resp_headers, data)
        except BaseException:
            # A half-used connection cannot be reused: the next request opens a fresh one.
            self._drop(parts.scheme, parts.netloc)
            raise


def is_connection_error(exc):
    return isinstance(exc, (OSError, http.client.HTTPException, socket.timeout))


def retry_after_seconds(response):
    value = response.header("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


_XML_CODE = re.compile(rb"<Code>([^<]*)</Code>")
_XML_MESSAGE = re.compile(rb"<Message>([^<]*)</Message>", re.S)


def error_from(response, what):
    """CheckpointError from a failed answer: the API's JSON error or storage's XML error."""
    code = None
    message = None
    target = None
    body = response.body or b""
    if body.startswith(b"{"):
        try:
            err = json.loads(body.decode("utf-8")).get("error") or {}
            code = err.get("code")
            message = err.get("message")
            target = err.get("target")
        except (ValueError, AttributeError):
            pass
    if code is None:
        code = response.header("x-ms-error-code")
        m = _XML_CODE.search(body)
        if m and not code:
            code = m.group(1).decode("utf-8", "replace")
        m = _XML_MESSAGE.search(body)
        if m:
            # Storage messages carry a RequestId/Time tail; the first line is what a user needs.
            message = m.group(1).decode("utf-8", "replace").splitlines()[0]
    if code is None:
        code = "Http%d" % response.status
    if message is None:
        message = "%s answered HTTP %d" % (what, response.status)
    return CheckpointError(code, message, response.status, target)


def redact(url):
    """A URL without its query: SAS signatures never go into messages or logs."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
