"""Shared test plumbing: the stack under test, unique run ids, and a fault-injecting HTTP proxy.

The tests talk to a real ckptvault local host and a real Azurite (CKPT_BASE_URL, set by
PythonClientIT during `mvn verify`, or by hand against scripts/run-local.sh). Faults are injected
on the wire by FaultProxy, never by patching the client.

The app's run routes demand a run token. With CKPT_ADMIN_KEY set, BASE_URL is a LauncherProxy in
front of the app that does what a job launcher does: it issues one write token per run through
the admin route and hands it on (Authorization: Bearer) with every request of that run that
carries no credential of its own.
"""

import http.client
import json
import os
import re
import sys
import threading
import unittest
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from ckptvault import CheckpointClient, RetryPolicy  # noqa: E402

APP_URL = os.environ.get("CKPT_BASE_URL")
ADMIN_KEY = os.environ.get("CKPT_ADMIN_KEY")
FUNCTION_KEY = os.environ.get("CKPT_FUNCTION_KEY")
KiB = 1024


def require_stack():
    if not APP_URL:
        raise unittest.SkipTest("CKPT_BASE_URL is not set: run through `mvn verify` (PythonClientIT) "
                                "or against scripts/run-local.sh with CKPT_BASE_URL=http://127.0.0.1:PORT")
    if not ADMIN_KEY:
        raise RuntimeError("CKPT_ADMIN_KEY is not set: the tests issue run tokens with the app's admin key "
                           "(scripts/run-local.sh keeps a development one in .azurite/admin-key)")


def new_run_id(name):
    return "py-%s-%s" % (name, uuid.uuid4().hex[:10])


def client(base_url=None, **kwargs):
    """A client with small blocks (tests stay small) and fast retries."""
    kwargs.setdefault("block_size", 64 * KiB)
    kwargs.setdefault("retry", RetryPolicy(attempts=5, base_delay=0.05, max_delay=0.5))
    kwargs.setdefault("progress", False)
    return CheckpointClient(base_url or BASE_URL, FUNCTION_KEY, **kwargs)


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


class LauncherProxy:
    """What a job launcher does for the ranks it starts, as an HTTP proxy in front of the app.

    A request under /api/runs/{run} without an Authorization or x-functions-key header gets a write
    token of that run, issued once per run with the admin key (POST /api/manage/runs/{run}/tokens)
    and then reused. Everything else passes unchanged; the admin key never leaves this process
    except to the token route.
    """

    RUN = re.compile(r"^/api/runs/([^/?]+)")

    def __init__(self, app_url, admin_key):
        self.app = urllib.parse.urlsplit(app_url)
        self.admin_key = admin_key
        self.tokens = {}
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
                # A trainer killed on purpose (the PyTorch test) leaves its connections broken: not news.
                if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                    super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base_url = "http://127.0.0.1:%d" % self.server.server_address[1]

    def _call(self, method, path, body, headers):
        conn = http.client.HTTPConnection(self.app.netloc, timeout=120)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    def token(self, run):
        """(token, None), or (None, the app's answer) when it would not issue one."""
        with self._lock:
            if run in self.tokens:
                return self.tokens[run], None
            answer = self._call("POST", "/api/manage/runs/%s/tokens" % urllib.parse.quote(run, safe=""),
                                json.dumps({"scope": "write", "ttlMinutes": 240}).encode(),
                                {"content-type": "application/json", "x-functions-key": self.admin_key})
            if answer[0] != 200:
                return None, answer
            self.tokens[run] = json.loads(answer[2])["token"]
            return self.tokens[run], None

    def _serve(self, handler):
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else None
        headers = {k: v for k, v in handler.headers.items()
                   if k.lower() not in ("host", "connection", "content-length")}
        answer = None
        m = self.RUN.match(handler.path)
        credentialed = any(k.lower() in ("authorization", "x-functions-key") for k in headers)
        if m and not credentialed:
            token, refused = self.token(urllib.parse.unquote(m.group(1)))
            if token:
                headers["authorization"] = "Bearer " + token
            else:
                answer = refused
        if answer is None:
            answer = self._call(handler.command, handler.path,
                                body if body or handler.command in ("PUT", "POST") else None, headers)
        status, response_headers, data = answer
        handler.send_response(status)
        for name, value in response_headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                handler.send_header(name, value)
        handler.send_header("content-length", str(len(data)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(data)


BASE_URL = LauncherProxy(APP_URL, ADMIN_KEY).base_url if APP_URL and ADMIN_KEY else APP_URL


class Exchange:
    """One request through the proxy, as the rules and the tests see it."""

    def __init__(self, method, kind, path, query, body):
        self.method = method
        self.kind = kind  # "api" or "blob"
        self.path = path
        self.query = query
        self.body = body
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

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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
        ex = Exchange(handler.command, kind, path, parts.query, body)
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
