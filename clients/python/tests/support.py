"""Shared test plumbing: the stack under test, unique run ids, and a fault-injecting HTTP proxy.

The tests talk to a real ckptvault local host and a real Azurite (CKPT_BASE_URL, set by
PythonClientIT during `mvn verify`, or by hand against scripts/run-local.sh). Faults are injected
on the wire by FaultProxy, never by patching the client.
"""

import hashlib
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CLIENT_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, CLIENT_DIR)

from ckptvault import CheckpointClient, RetryPolicy  # noqa: E402

BASE_URL = os.environ.get("CKPT_BASE_URL")
FUNCTION_KEY = os.environ.get("CKPT_FUNCTION_KEY")
KiB = 1024


def require_stack():
    if not BASE_URL:
        raise unittest.SkipTest("CKPT_BASE_URL is not set: run through `mvn verify` (PythonClientIT) "
                                "or against scripts/run-local.sh with CKPT_BASE_URL=http://127.0.0.1:PORT")


def new_run_id(name):
    return "py-%s-%s" % (name, uuid.uuid4().hex[:10])


def client(base_url=None, **kwargs):
    """A client with small blocks (tests stay small) and fast retries."""
    kwargs.setdefault("block_size", 64 * KiB)
    kwargs.setdefault("retry", RetryPolicy(attempts=5, base_delay=0.05, max_delay=0.5))
    kwargs.setdefault("progress", False)
    return CheckpointClient(base_url or BASE_URL, FUNCTION_KEY, **kwargs)


def payload(size, seed):
    """Deterministic, incompressible-looking bytes of ``size``."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(b"%d-%d" % (seed, counter)).digest()
        counter += 1
    return bytes(out[:size])


def write_files(root, files):
    """files: {relative path: bytes}; returns root."""
    for rel, data in files.items():
        path = os.path.join(root, *rel.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
    return root


def read_tree(root):
    out = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as fh:
                out[os.path.relpath(path, root).replace(os.sep, "/")] = fh.read()
    return out


class Exchange:
    """One request through the proxy, as the rules and the tests see it."""

    def __init__(self, method, kind, path, query, body, headers=None):
        self.method = method
        self.kind = kind  # "api" or "blob"
        self.path = path
        self.query = query
        self.body = body
        self.headers = headers or {}  # request headers, names in lower case
        self.status = None

    def params(self):
        return urllib.parse.parse_qs(self.query)

    def __repr__(self):
        return "%s %s %s -> %s" % (self.method, self.kind, self.path, self.status)


class FaultProxy:
    """A real HTTP proxy in front of the app and of the storage URLs it hands out.

    Blob URLs in the app's JSON answers are rewritten to pass through the proxy (the SAS signature
    does not cover the host, so they stay valid). ``before`` rules may answer instead of the
    upstream; ``after`` rules may change the upstream's answer. Every exchange is logged.
    """

    def __init__(self, api_base):
        self.api = urllib.parse.urlsplit(api_base)
        self.origins = []
        self.log = []
        self.before = []  # fn(exchange) -> (status, headers, body) or None
        self.after = []   # fn(exchange, status, headers, body) -> (status, headers, body)
        self.active = 0
        self.max_active = {}
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                proxy._serve(self)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                # A client killed on purpose (kill -9, Ctrl-C) leaves its connection broken: not news.
                if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                    super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base_url = "http://127.0.0.1:%d" % self.server.server_address[1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def answer_once(self, predicate, status, body=b"", headers=None):
        """The first request matching ``predicate`` gets ``status`` instead of reaching upstream."""
        fired = []

        def rule(ex):
            if not fired and predicate(ex):
                fired.append(ex)
                return status, dict(headers or {}), body
            return None

        self.before.append(rule)
        return fired

    def exchanges(self, predicate=lambda ex: True):
        with self._lock:
            return [ex for ex in self.log if predicate(ex)]

    # ------------------------------------------------------------------ internals

    def _origin_prefix(self, scheme, netloc):
        with self._lock:
            if (scheme, netloc) not in self.origins:
                self.origins.append((scheme, netloc))
            return "/__origin/%d" % self.origins.index((scheme, netloc))

    def _rewrite_urls(self, node):
        if isinstance(node, dict):
            return {k: (self._proxied(v) if k == "url" and isinstance(v, str) else self._rewrite_urls(v))
                    for k, v in node.items()}
        if isinstance(node, list):
            return [self._rewrite_urls(v) for v in node]
        return node

    def _proxied(self, url):
        parts = urllib.parse.urlsplit(url)
        prefix = self._origin_prefix(parts.scheme, parts.netloc)
        return urllib.parse.urlunsplit(("http", self.base_url[len("http://"):], prefix + parts.path,
                                        parts.query, ""))

    def _serve(self, handler):
        parts = urllib.parse.urlsplit(handler.path)
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else b""
        m = re.match(r"/__origin/(\d+)(/.*)", parts.path)
        if m:
            kind, (scheme, netloc), path = "blob", self.origins[int(m.group(1))], m.group(2)
        else:
            kind, scheme, netloc, path = "api", self.api.scheme, self.api.netloc, parts.path
        ex = Exchange(handler.command, kind, path, parts.query, body,
                      {k.lower(): v for k, v in handler.headers.items()})
        with self._lock:
            self.log.append(ex)
            self.active += 1
            key = (kind, handler.command)
            self.max_active[key] = max(self.max_active.get(key, 0), self.active)
        try:
            answer = None
            for rule in list(self.before):
                answer = rule(ex)
                if answer is not None:
                    break
            if answer is None:
                answer = self._forward(handler, scheme, netloc, path, parts.query, body)
                if kind == "api" and answer[2].startswith(b"{"):
                    status, headers, data = answer
                    data = json.dumps(self._rewrite_urls(json.loads(data))).encode("utf-8")
                    answer = (status, headers, data)
                for rule in list(self.after):
                    answer = rule(ex, *answer)
        finally:
            with self._lock:
                self.active -= 1
        status, headers, data = answer
        ex.status = status
        handler.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                handler.send_header(name, value)
        handler.send_header("content-length", str(len(data)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(data)

    def _forward(self, handler, scheme, netloc, path, query, body):
        conn_type = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        conn = conn_type(netloc, timeout=60)
        try:
            headers = {k: v for k, v in handler.headers.items()
                       if k.lower() not in ("host", "connection", "content-length")}
            conn.request(handler.command, path + ("?" + query if query else ""),
                         body=body if body or handler.command in ("PUT", "POST") else None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k: v for k, v in resp.getheaders()}, data
        finally:
            conn.close()


# ------------------------------------------------------------------------------ the command line


def cli_env(url=None, **extra):
    """Environment for a ``python -m ckptvault`` child: this checkout's client, no stray credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CKPT_")}
    env["PYTHONPATH"] = CLIENT_DIR + os.pathsep + env.get("PYTHONPATH", "")
    env["CKPT_URL"] = url or BASE_URL
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


def cli_command(*args):
    return [sys.executable, "-m", "ckptvault", *[str(a) for a in args]]


def run_cli(*args, url=None, env=None, timeout=120):
    """Runs the CLI to its end: CompletedProcess with text stdout/stderr."""
    return subprocess.run(cli_command(*args), env=env or cli_env(url), capture_output=True, text=True,
                          timeout=timeout)


def wait_for(predicate, timeout=30.0, what="condition"):
    """Polls ``predicate`` until it returns something truthy; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    pause = 0.02
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


def closed_port():
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
