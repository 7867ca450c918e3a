"""Shared test plumbing: the stack under test, unique run ids, and a fault-injecting HTTP proxy.

The tests talk to a real ckptvault local host and a real Azurite (CKPT_BASE_URL, set by
PythonClientIT during `mvn verify`, or by hand against scripts/run-local.sh). Faults are injected
on the wire by FaultProxy, never by patching the client.

The app's run routes demand a run token and its admin routes the admin key (CKPT_ADMIN_KEY). The
tests do what a job launcher does: token_for(run) issues a token of the run through the admin
route, and each client, CLI command, sync or trainer is handed the token of its run explicitly
(``client(token=...)``, ``CKPT_TOKEN`` in rank_env/operator_env). Nothing adds credentials on the way.
"""

import hashlib
import http.client
import json
import os
import re
import signal
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

from ckptvault import CheckpointClient, CheckpointError, RetryPolicy  # noqa: E402

BASE_URL = os.environ.get("CKPT_BASE_URL")
ADMIN_KEY = os.environ.get("CKPT_ADMIN_KEY")
KiB = 1024

# Every client here is handed its run's token; one exported in the shell that runs the tests must
# not stand in for it (CheckpointClient reads CKPT_TOKEN when given no token).
os.environ.pop("CKPT_TOKEN", None)


def require_stack():
    if not BASE_URL:
        raise unittest.SkipTest("CKPT_BASE_URL is not set: run through `mvn verify` (PythonClientIT) "
                                "or against scripts/run-local.sh with CKPT_BASE_URL=http://127.0.0.1:PORT")
    if not ADMIN_KEY:
        raise RuntimeError("CKPT_ADMIN_KEY is not set: the tests issue run tokens with the app's admin key "
                           "(scripts/run-local.sh logs where it keeps its own: .azurite/admin-key, or a temporary "
                           "file with --data :memory:)")


def new_run_id(name):
    return "py-%s-%s" % (name, uuid.uuid4().hex[:10])


def client(base_url=None, **kwargs):
    """A client with small blocks (tests stay small) and fast retries; credentials only as given
    (``token=token_for(run)``, ``admin_key=ADMIN_KEY``)."""
    kwargs.setdefault("block_size", 64 * KiB)
    kwargs.setdefault("retry", RetryPolicy(attempts=5, base_delay=0.05, max_delay=0.5))
    kwargs.setdefault("progress", False)
    return CheckpointClient(base_url or BASE_URL, **kwargs)


def admin_client(base_url=None, **kwargs):
    """A client holding the admin key only: admin routes (tokens, pins, policies, deletes)."""
    return client(base_url, admin_key=ADMIN_KEY, **kwargs)


_tokens = {}
_tokens_lock = threading.Lock()


def token_for(run, scope="write"):
    """A ``scope`` token of ``run``, issued through the admin route as a job launcher does, once per
    (run, scope) in this process. A test that revokes a run's tokens uses a run of its own."""
    with _tokens_lock:
        if (run, scope) not in _tokens:
            with admin_client() as c:
                _tokens[(run, scope)] = c.create_token(run, scope, ttl_minutes=240)["token"]
        return _tokens[(run, scope)]


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
        self.response_headers = {}  # names in lower case, once answered

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
        ex.response_headers = {k.lower(): v for k, v in headers.items()}
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
    """Environment for a ``python -m ckptvault`` child: this checkout's client, no credential but
    those in ``extra`` (CKPT_TOKEN=..., CKPT_ADMIN_KEY=...)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CKPT_")}
    env["PYTHONPATH"] = CLIENT_DIR + os.pathsep + env.get("PYTHONPATH", "")
    env["CKPT_URL"] = url or BASE_URL
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


def rank_env(run, url=None):
    """What a launcher hands a training process or a sync of ``run``: the run's write token, no admin key."""
    return cli_env(url, CKPT_TOKEN=token_for(run))


def operator_env(run, url=None):
    """An operator's shell working on ``run``: its write token and the admin key."""
    return cli_env(url, CKPT_TOKEN=token_for(run), CKPT_ADMIN_KEY=ADMIN_KEY)


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


# ------------------------------------------------------------------------------ sync under kill -9


def is_commit(ex):
    return ex.kind == "api" and ex.method == "POST" and ex.path.endswith("/commit")


def is_uploads(ex):
    return ex.kind == "api" and ex.method == "POST" and ex.path.endswith("/uploads")


def exchange_step(ex):
    """The checkpoint step an exchange is about (API route or blob name), or None."""
    m = re.search(r"/checkpoints/(\d+)(?:/|$)", ex.path) or re.search(r"/step-(\d{12})/", ex.path)
    return int(m.group(1)) if m else None


def describe(ex):
    if ex.kind == "blob":
        what = "Put Block List" if "comp=blocklist" in ex.query else "Put Block" if "comp=block" in ex.query \
            else "%s blob" % ex.method
        return "%s %s" % (what, ex.path.split("/step-")[-1])
    return "%s %s" % (ex.method, ex.path)


class KillingSync:
    """Runs `ckptvault sync` (a real process) with its traffic through a FaultProxy, and SIGKILLs it
    at seeded points: at the n-th exchange of a launch, inside the k-th block upload, or right after
    the service accepted a commit (the answer never arrives). Points are chosen from ``seed``, so a
    run is repeatable up to thread scheduling; every kill is recorded in ``kills``."""

    def __init__(self, test, run, watch, args, seed):
        import random
        self.test = test
        self.run = run
        self.watch = watch
        self.args = [str(a) for a in args]
        self.seed = seed
        self.rng = random.Random(seed)
        self.proxy = FaultProxy(BASE_URL)
        test.addCleanup(self.proxy.close)
        self.kills = []
        self.launches = 0
        self.proc = None
        self.spec = None
        self._lock = threading.Lock()
        self._n = 0
        self._blocks = 0
        self._commits = 0
        self.proxy.before.append(self._before)
        self.proxy.after.append(self._after)

    def random_spec(self):
        """One kill point: ("any", n), ("block", k) or ("commit",), each with a phase."""
        kind = self.rng.choice(["any", "block", "commit"])
        if kind == "any":
            return ("any", self.rng.randint(1, 14), self.rng.choice(["before", "after"]))
        if kind == "block":
            return ("block", self.rng.randint(1, 6), self.rng.choice(["before", "after"]))
        return ("commit", 1, self.rng.choice(["before", "after"]))

    def start(self, spec=None, once=False, log=None):
        with self._lock:
            self.spec = spec
            self._n = self._blocks = self._commits = 0
            self.launches += 1
        cmd = cli_command("sync", "--run", self.run, "--watch", self.watch, *self.args, *(["--once"] if once else []))
        self.proc = subprocess.Popen(cmd, env=rank_env(self.run, self.proxy.base_url), stdout=subprocess.PIPE,
                                     stderr=log if log is not None else subprocess.DEVNULL, text=True)
        self.test.addCleanup(self._reap, self.proc)
        return self.proc

    @staticmethod
    def _reap(proc):
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout:
            proc.stdout.close()

    def _before(self, ex):
        with self._lock:
            self._n += 1
            ex.launch = self.launches
            if self.spec is None:
                return None
            kind, n, phase = self.spec
            if kind == "block" and ex.kind == "blob" and "comp=block&" in ex.query + "&":
                self._blocks += 1
            if kind == "commit" and is_commit(ex):
                self._commits += 1
            hit = ((kind == "any" and self._n == n) or (kind == "block" and self._blocks == n
                                                        and "comp=block&" in ex.query + "&")
                   or (kind == "commit" and self._commits == n and is_commit(ex)))
            if not hit:
                return None
            self.spec = None
            if phase == "after":
                ex.kill_after = True
                return None
        self._kill(ex, "before it reached the service")
        return 503, {}, b""

    def _after(self, ex, status, headers, body):
        if getattr(ex, "kill_after", False):
            self._kill(ex, "after the service answered %d" % status)
        return status, headers, body

    def _kill(self, ex, when):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.kills.append("launch %d: SIGKILL at exchange %d, %s, %s" % (ex.launch, self._n, describe(ex), when))
        ex.killed_before = when.startswith("before")


def kill_seed(label):
    """The seed of a kill test: CKPT_SYNC_SEED when set (to repeat a run), else a fresh one; printed."""
    import random
    seed = int(os.environ.get("CKPT_SYNC_SEED") or random.SystemRandom().randrange(1 << 31))
    sys.stderr.write("\n[%s] seed %d (repeat with CKPT_SYNC_SEED=%d)\n" % (label, seed, seed))
    return seed


def report_kills(label, killer):
    sys.stderr.write("[%s] seed %d: %d kills\n  %s\n" % (label, killer.seed, len(killer.kills),
                                                      "\n  ".join(killer.kills)))


def read_log(log):
    log.flush()
    log.seek(0)
    return log.read()


def checkpoint_states(run):
    """{step: state} of every checkpoint of ``run`` on the service."""
    with client(token=token_for(run, "read")) as c:
        try:
            return {cp["step"]: cp["state"] for cp in c.checkpoints(run, limit=1000)["checkpoints"]}
        except CheckpointError as e:
            if e.status == 404:  # a run the service does not know yet has no checkpoints
                return {}
            raise


def assert_synced(test, run, local_dirs, unfinished, exchanges):
    """What a user checks after sync: every finished checkpoint (``local_dirs``: {step: local folder})
    is COMMITTED with exactly its local bytes (downloaded, sha256 verified, compared); each step was
    committed with one manifest only, and never uploaded again once committed; nothing of an
    ``unfinished`` step ever reached the service. ``exchanges``: the proxy's log of the sync's
    traffic (None when the sync did not go through a proxy: the service-side checks only)."""
    import tempfile
    states = checkpoint_states(run)
    test.assertEqual({s: "COMMITTED" for s in local_dirs}, {s: states.get(s) for s in local_dirs})
    for step in unfinished:
        test.assertNotIn(step, states, "unfinished step %d reached the service" % step)
    with client(token=token_for(run, "read")) as c, tempfile.TemporaryDirectory(prefix="ckptvault-verify-") as tmp:
        for step, folder in sorted(local_dirs.items()):
            dest = os.path.join(tmp, str(step))
            c.download_checkpoint(run, step, dest)
            local = read_tree(folder)
            local.pop(".ckptvault-sync-%s.json" % run, None)
            test.assertEqual({k: hashlib.sha256(v).hexdigest() for k, v in local.items()},
                             {k: hashlib.sha256(v).hexdigest() for k, v in read_tree(dest).items()},
                             "step %d: committed content differs from %s" % (step, folder))
    if exchanges is None:
        return
    assert_commits_name_their_writes(test, exchanges)
    for step in local_dirs:
        reached = [ex for ex in exchanges if is_commit(ex) and exchange_step(ex) == step
                   and not getattr(ex, "killed_before", False)]
        manifests = {json.dumps(json.loads(ex.body), sort_keys=True) for ex in reached}
        test.assertEqual(1, len(manifests), "step %d: commits with %d different manifests" % (step, len(manifests)))
        first_committed = next((i for i, ex in enumerate(exchanges) if is_commit(ex) and exchange_step(ex) == step
                                and ex.status == 200), None)
        test.assertIsNotNone(first_committed, "step %d: no commit answered 200" % step)
        again = [describe(ex) for ex in exchanges[first_committed + 1:]
                 if is_uploads(ex) and exchange_step(ex) == step]
        test.assertEqual([], again, "step %d was uploaded again after it was committed" % step)
    for step in unfinished:
        test.assertEqual([], [describe(ex) for ex in exchanges if exchange_step(ex) == step])


def is_last_write(ex):
    """A Put Blob or Put Block List: the write whose ETag names the file's content."""
    return ex.kind == "blob" and ex.method == "PUT" and ("comp=blocklist" in ex.query or "comp=" not in ex.query)


def assert_commits_name_their_writes(test, exchanges):
    """Every file of every commit sent carries the ETag that storage answered to the last write of
    that blob seen before the commit (``exchanges``: a proxy's log, in request order)."""
    commits = [ex for ex in exchanges if is_commit(ex)]
    test.assertTrue(commits, "no commit was sent")
    written = {}
    for ex in exchanges:
        if is_last_write(ex) and ex.status is not None and 200 <= ex.status < 300:
            written[ex.path] = ex.response_headers.get("etag")
        elif is_commit(ex):
            manifest = json.loads(ex.body)
            run = urllib.parse.unquote(re.match(r"/api/runs/([^/]+)/", ex.path).group(1))
            for i, f in enumerate(manifest["files"]):
                suffix = "/%s/step-%012d/%s" % (run, manifest["step"], f["path"])
                blob = [p for p in written if p.endswith(suffix)]
                test.assertTrue(f.get("etag"), "%s: files[%d] has no etag" % (describe(ex), i))
                if blob:
                    test.assertEqual(written[blob[0]], f["etag"],
                                     "%s: files[%d] names another write than the last one" % (describe(ex), i))
