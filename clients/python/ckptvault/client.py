"""CheckpointClient: write and read ckptvault checkpoints from a trainer, standard library only."""

import base64
import concurrent.futures
import email.utils
import hashlib
import ipaddress
import json
import os
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timezone

from ._http import (RETRYABLE_STATUS, RetryPolicy, Transport, error_from, is_connection_error, redact,
                    retry_after_seconds)
from .errors import CheckpointError
from .paths import decode_path, encode_path

MiB = 1 << 20

# States after which waiting for a commit is pointless.
_FINAL_BAD_STATES = frozenset({"FAILED", "TAMPERED", "ABANDONED", "DELETING", "DELETED"})


class CheckpointClient:
    """Client for one ckptvault app.

    ``base_url`` is the app's root (``http://127.0.0.1:7071``, ``https://<app>.azurewebsites.net``).
    Credentials: ``token``, a run token (``CKPT_TOKEN`` from the environment when ``token`` is not
    given), is sent as ``Authorization: Bearer`` on the run's routes; ``admin_key`` as
    ``x-functions-key`` on admin routes only (runs list, policy, pin, delete, tokens). A training
    node needs only the token; the admin key stays with whoever issues tokens (docs/access.md).
    No credential is ever sent over plain ``http://`` except to a loopback host (ValueError), and
    none goes to storage: blob requests carry only their SAS URL.

    Files up to ``single_put_limit`` bytes go up in one Put Blob, bigger ones as ``block_size``
    blocks, ``max_workers`` requests in parallel.
    ``progress``: None shows a progress line when stderr is a terminal, True/False force it on/off;
    ``on_progress(done_bytes, total_bytes)`` is called after every finished request's bytes.
    ``clock`` (seconds since the epoch) decides when write/read URLs are close to expiry.
    """

    def __init__(self, base_url, *, token=None, admin_key=None, block_size=8 * MiB,
                 single_put_limit=None, max_workers=8, max_files_in_flight=4, url_minutes=30, refresh_margin=120.0,
                 retry=None, timeout=120.0, commit_timeout=120.0, progress=None, on_progress=None,
                 clock=time.time):
        if block_size < 1 or block_size > 4000 * MiB:
            raise ValueError("block_size must be between 1 byte and 4000 MiB")
        root = base_url.rstrip("/")
        self.api_url = root if root.endswith("/api") else root + "/api"
        if token is None:
            token = os.environ.get("CKPT_TOKEN") or None
        self.token = token
        self.admin_key = admin_key
        _check_transport(self.api_url, token or admin_key)
        self.block_size = int(block_size)
        self.single_put_limit = int(block_size if single_put_limit is None else single_put_limit)
        self.max_workers = max_workers
        self.url_minutes = url_minutes
        self.refresh_margin = refresh_margin
        self.retry = retry or RetryPolicy()
        self.commit_timeout = commit_timeout
        self.progress = progress
        self.on_progress = on_progress
        self.clock = clock
        self._transport = Transport(timeout=timeout)
        self._blocks = concurrent.futures.ThreadPoolExecutor(max_workers, thread_name_prefix="ckptvault-io")
        self._files = concurrent.futures.ThreadPoolExecutor(max_files_in_flight,
                                                            thread_name_prefix="ckptvault-file")
        # One background upload at a time keeps checkpoints in step order.
        self._background = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ckptvault-bg")
        # Bounds the blocks read into memory but not yet sent, across every file being uploaded.
        self._in_flight = threading.BoundedSemaphore(max_workers * 2)

    # ------------------------------------------------------------------ lifecycle

    def close(self):
        self._background.shutdown(wait=True)
        self._files.shutdown(wait=True)
        self._blocks.shutdown(wait=True)
        self._transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ service calls

    def request_uploads(self, run_id, step, files, expires_in_minutes=None):
        """POST .../uploads for ``files`` ([{"path", "size"}]): the service's answer as a dict."""
        return self._request_uploads(run_id, step, files, expires_in_minutes).json()

    def _request_uploads(self, run_id, step, files, expires_in_minutes=None):
        body = {"files": list(files),
                "expiresInMinutes": expires_in_minutes or self.url_minutes}
        return self._api("POST", self._checkpoint_route(run_id, step) + "/uploads", body)

    def commit(self, run_id, step, manifest, wait=True, timeout=None):
        """POST .../commit with ``manifest`` ({"files", "metrics"?, "metadata"?}; "step" is filled in).
        Every file needs ``path``, ``size`` and ``etag`` (what upload_checkpoint returns); a file
        without ``etag`` raises CheckpointError ``InvalidManifest`` naming ``files[i].etag``.

        The answer is the checkpoint. With ``wait`` a 202 (COMMITTING: files not yet seen) is followed
        until the checkpoint is COMMITTED, or CheckpointError ``CommitTimeout`` after ``timeout`` s.
        """
        body = {"step": int(step),
                "files": [_manifest_file(i, f) for i, f in enumerate(manifest["files"])],
                "metrics": dict(manifest.get("metrics") or {}),
                "metadata": dict(manifest.get("metadata") or {})}
        if "step" in manifest and int(manifest["step"]) != int(step):
            raise ValueError("manifest step %s differs from step %s" % (manifest["step"], step))
        route = self._checkpoint_route(run_id, step)
        checkpoint = self._api("POST", route + "/commit", body, ok=(200, 202)).json()
        if not wait:
            return checkpoint
        deadline = time.monotonic() + (self.commit_timeout if timeout is None else timeout)
        pause = 0.1
        while checkpoint.get("state") != "COMMITTED":
            state = checkpoint.get("state")
            if state in _FINAL_BAD_STATES:
                raise CheckpointError("CommitFailed", "checkpoint %s/%s is %s" % (run_id, step, state))
            if time.monotonic() >= deadline:
                raise CheckpointError("CommitTimeout", "checkpoint %s/%s still %s, missing %s" % (
                    run_id, step, state, checkpoint.get("missing")))
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
            checkpoint = self.checkpoint(run_id, step)
        return checkpoint

    def checkpoint(self, run_id, step, downloads=False):
        """GET one checkpoint; ``downloads`` adds read URLs to its files."""
        return self._checkpoint(run_id, step, downloads).json()

    def _checkpoint(self, run_id, step, downloads):
        route = self._checkpoint_route(run_id, step) + ("?downloads=true" if downloads else "")
        return self._api("GET", route)

    def latest(self, run_id):
        """The newest COMMITTED checkpoint with read URLs, or None when the run has none."""
        try:
            return self._api("GET", "/runs/%s/checkpoints/latest" % _q(run_id)).json()
        except CheckpointError as e:
            if e.status == 404 and e.code in ("NoCommittedCheckpoint", "NotFound"):
                return None
            raise

    def plan(self, run_id):
        """The retention plan (dry run): {"keep": [...], "remove": [...]}."""
        return self._api("GET", "/runs/%s/retention/plan" % _q(run_id)).json()

    def run(self, run_id):
        """GET one run: {"runId", "retention", "latestCommittedStep", "counts", "bytes"}."""
        return self._api("GET", "/runs/%s" % _q(run_id)).json()

    def checkpoints(self, run_id, state=None, limit=100, files=False):
        """{"checkpoints": newest first, at most ``limit``, "next": continuation or None}, following
        the service's pages. A run the service does not know answers CheckpointError NotFound."""
        query = {"state": state, "files": "true" if files else None}
        return self._pages("/runs/%s/checkpoints" % _q(run_id), "checkpoints", limit, query)

    # ------------------------------------------------------------------ admin calls (admin key)

    def runs(self, limit=1000):
        """{"runs": [run summaries], "next"}, following the service's pages up to ``limit``."""
        return self._pages("/runs", "runs", limit, {}, admin=True)

    def put_run(self, run_id, retention):
        """PUT the run's retention policy. It replaces what was set before: fields not given fall back
        to the service's defaults. The answer has the effective ``retention`` and ``retentionSet``."""
        return self._api("PUT", "/runs/%s" % _q(run_id), {"retention": dict(retention)}, admin=True).json()

    def pin(self, run_id, step):
        """Protects a COMMITTED checkpoint from retention."""
        return self._api("PUT", self._checkpoint_route(run_id, step) + "/pin", admin=True).json()

    def unpin(self, run_id, step):
        return self._api("DELETE", self._checkpoint_route(run_id, step) + "/pin", admin=True).json()

    def delete_checkpoint(self, run_id, step, force=False):
        """Deletes now; ``force`` for the only committed or a pinned checkpoint."""
        route = self._checkpoint_route(run_id, step) + ("?force=true" if force else "")
        return self._api("DELETE", route, admin=True).json()

    def create_token(self, run_id, scope, ttl_minutes=None):
        """A run token: {"token", "runId", "scope", "expiresOn"}. ``scope``: "write" or "read"."""
        body = {"scope": scope}
        if ttl_minutes is not None:
            body["ttlMinutes"] = int(ttl_minutes)
        return self._api("POST", "/manage/runs/%s/tokens" % _q(run_id), body, ok=(200, 201), admin=True).json()

    def revoke_tokens(self, run_id):
        """Revokes every token issued for the run so far."""
        resp = self._api("DELETE", "/manage/runs/%s/tokens" % _q(run_id), ok=(200, 202, 204), admin=True)
        return resp.json() or {"runId": run_id, "revoked": True}

    # ------------------------------------------------------------------ upload

    def upload_checkpoint(self, run_id, step, files_or_dir, metrics=None, rank=0, world_size=1, *,
                          metadata=None, prefix=None, sha256=True, commit=None):
        """Uploads this rank's files of checkpoint ``step``; with ``world_size == 1`` also commits
        (``commit`` True/False says so explicitly).

        ``files_or_dir``: a directory (every file under it), one file, a mapping
        {checkpoint path: local file} or a list of local files. With ``world_size > 1`` paths go
        under ``rank-NNNNN/`` unless ``prefix`` says otherwise (``prefix=""`` for none). Names the
        service refuses (``__0_0.distcp``, ``epoch=0-step=9.ckpt``) are stored escaped
        (ckptvault.paths) and restored by download_checkpoint.

        Returns {"runId", "step", "rank", "files": [{"path", "size", "etag", "sha256"}],
        "checkpoint": the committed checkpoint, or None when another rank commits}.
        """
        if not 0 <= rank < world_size:
            raise ValueError("rank %d is not within world_size %d" % (rank, world_size))
        if prefix is None:
            prefix = "rank-%05d/" % rank if world_size > 1 else ""
        files = _collect(files_or_dir, prefix)
        entries = self._upload_files(run_id, step, files, sha256)
        result = {"runId": run_id, "step": int(step), "rank": rank, "files": entries, "checkpoint": None}
        if commit is None:
            commit = world_size == 1
        if commit:
            result["checkpoint"] = self.commit(run_id, step, {"files": entries, "metrics": metrics,
                                                              "metadata": metadata})
        return result

    def upload_checkpoint_async(self, run_id, step, files_or_dir, metrics=None, rank=0, world_size=1,
                                **kwargs):
        """upload_checkpoint in the background: a concurrent.futures.Future of its result.

        Uploads run one after another in the order they were asked for. The files must stay as
        they are until the future is done (write each checkpoint to its own folder).
        """
        return self._background.submit(self.upload_checkpoint, run_id, step, files_or_dir, metrics,
                                       rank, world_size, **kwargs)

    def _upload_files(self, run_id, step, files, with_sha256):
        sizes = {}
        for rel, local in files:
            sizes[rel] = os.path.getsize(local)

        def fetch(pending):
            # Only files whose last write has not been sent: the others need no URL, and a service
            # that predates conditional discard would delete what that write stored.
            resp = self._request_uploads(run_id, step, [{"path": p, "size": sizes[p]} for p in pending])
            answer = resp.json()
            return {u["path"]: u["url"] for u in answer["uploads"]}, answer.get("expiresOn"), resp.header("date")

        book = _UrlBook(fetch, self.clock, self.refresh_margin, pending=sizes.keys())
        progress = self._progress("upload %s step %s" % (run_id, step), sum(sizes.values()))
        try:
            futures = [self._files.submit(self._upload_file, book, rel, local, sizes[rel], with_sha256,
                                          progress) for rel, local in files]
            return _results(futures)
        finally:
            progress.close()

    def _upload_file(self, book, rel, local, size, with_sha256, progress):
        hasher = hashlib.sha256() if with_sha256 else None
        if size <= self.single_put_limit:
            with open(local, "rb") as fh:
                data = fh.read()
            _check_size(rel, local, size, len(data))
            if hasher:
                hasher.update(data)
            book.finishing(rel)
            resp = self._blob_call(book, rel, "PUT", "", data, {"x-ms-blob-type": "BlockBlob"},
                                   "Put Blob " + rel)
            progress.add(len(data))
        else:
            resp = self._upload_blocks(book, rel, local, size, hasher, progress)
        etag = resp.header("etag")
        if not etag:
            # The commit names each file's write by its ETag; without one this upload cannot be committed.
            raise CheckpointError("NoETag", "storage answered the last write of %s without an ETag" % rel)
        entry = {"path": rel, "size": size, "etag": etag}
        if hasher:
            entry["sha256"] = hasher.hexdigest()
        return entry

    def _upload_blocks(self, book, rel, local, size, hasher, progress):
        block_ids = []
        futures = []
        read = 0
        failed = threading.Event()
        with open(local, "rb") as fh:
            while not failed.is_set():
                chunk = fh.read(self.block_size)
                if not chunk:
                    break
                read += len(chunk)
                if hasher:
                    hasher.update(chunk)
                # Same-length ids are a Put Block List requirement.
                block_id = base64.b64encode(b"%08d" % len(block_ids)).decode("ascii")
                block_ids.append(block_id)
                self._in_flight.acquire()
                try:
                    fut = self._blocks.submit(self._put_block, book, rel, block_id, chunk, progress)
                except BaseException:
                    self._in_flight.release()
                    raise
                fut.add_done_callback(lambda f: (self._in_flight.release(),
                                                 f.exception() is not None and failed.set()))
                futures.append(fut)
        _results(futures)
        _check_size(rel, local, size, read)
        xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>%s</BlockList>" % "".join(
            "<Latest>%s</Latest>" % b for b in block_ids)
        book.finishing(rel)
        return self._blob_call(book, rel, "PUT", "&comp=blocklist", xml.encode("utf-8"),
                               {"content-type": "application/xml"}, "Put Block List " + rel)

    def _put_block(self, book, rel, block_id, chunk, progress):
        query = "&comp=block&blockid=" + urllib.parse.quote(block_id, safe="")
        self._blob_call(book, rel, "PUT", query, chunk, {}, "Put Block " + rel)
        progress.add(len(chunk))

    # ------------------------------------------------------------------ download

    def download_checkpoint(self, run_id, step, dest_dir, *, prefix=None, verify=True):
        """Downloads checkpoint ``step`` (a number or "latest") into ``dest_dir``, files under their
        checkpoint paths; only paths starting with ``prefix`` when given. Every file's size and, when
        the manifest has one, sha256 are checked (CheckpointError ``SizeMismatch`` /
        ``Sha256Mismatch``; nothing is left at the file's place then). Returns the checkpoint.
        """
        if step == "latest":
            first = self._api("GET", "/runs/%s/checkpoints/latest" % _q(run_id))
        else:
            first = self._checkpoint(run_id, step, True)
        checkpoint = first.json()
        number = checkpoint["step"]
        wanted = [f for f in checkpoint["files"] if prefix is None or f["path"].startswith(prefix)]
        answers = [first]

        def fetch(_pending):
            resp = answers.pop() if answers else self._checkpoint(run_id, number, True)
            urls = {f["path"]: f.get("url") for f in resp.json()["files"]}
            return urls, None, resp.header("date")

        book = _UrlBook(fetch, self.clock, self.refresh_margin)
        root = os.path.abspath(dest_dir)
        progress = self._progress("download %s step %s" % (run_id, number), sum(f["size"] for f in wanted))
        try:
            futures = [self._files.submit(self._download_file, book, f, _local_path(root, decode_path(f["path"])),
                                          verify, progress) for f in wanted]
            _results(futures)
        finally:
            progress.close()
        return checkpoint

    def _download_file(self, book, entry, dest, verify, progress):
        rel, size = entry["path"], int(entry["size"])
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        part = dest + ".part"
        try:
            with open(part, "wb") as fh:
                fh.truncate(size)
            if size <= self.single_put_limit:
                self._get_range(book, rel, part, 0, size, progress, whole=True)
            else:
                futures = [self._blocks.submit(self._get_range, book, rel, part, off,
                                               min(self.block_size, size - off), progress)
                           for off in range(0, size, self.block_size)]
                _results(futures)
            if verify:
                _verify(rel, part, size, entry.get("sha256"))
            os.replace(part, dest)
        except BaseException:
            if os.path.exists(part):
                os.remove(part)
            raise

    def _get_range(self, book, rel, part, offset, length, progress, whole=False):
        headers = {} if whole else {"x-ms-range": "bytes=%d-%d" % (offset, offset + length - 1)}

        class Sink:
            # Fresh per attempt: a retried range overwrites what a failed attempt wrote.
            def __init__(self):
                self.fh = open(part, "r+b")
                self.fh.seek(offset)
                self.count = 0

            def __call__(self, chunk):
                self.count += len(chunk)
                if whole and self.count > length:
                    # More bytes than the manifest says: keep counting, stop writing past the end.
                    return
                self.fh.write(chunk)

        sinks = []

        def sink_factory():
            for s in sinks:
                s.fh.close()
            sinks.append(Sink())
            return sinks[-1]

        try:
            self._blob_call(book, rel, "GET", "", None, headers, "Get Blob " + rel, sink_factory=sink_factory)
        finally:
            for s in sinks:
                s.fh.close()
        got = sinks[-1].count
        if got != length:
            raise CheckpointError("SizeMismatch", "%s: expected %d bytes%s, got %d" % (
                rel, length, "" if whole else " at offset %d" % offset, got))
        progress.add(got)

    # ------------------------------------------------------------------ plumbing

    def _pages(self, route, key, limit, query, admin=False):
        """Up to ``limit`` items of a listing, page after page (the service gives at most 1000)."""
        items = []
        continuation = None
        while True:
            params = {k: v for k, v in query.items() if v}
            params["limit"] = str(min(1000, limit - len(items)))
            if continuation:
                params["continuation"] = continuation
            page = self._api("GET", route + "?" + urllib.parse.urlencode(params), admin=admin).json()
            items.extend(page.get(key) or [])
            continuation = page.get("next")
            if not continuation or len(items) >= limit:
                return {key: items[:limit], "next": continuation}

    def _checkpoint_route(self, run_id, step):
        return "/runs/%s/checkpoints/%d" % (_q(run_id), int(step))

    def _api(self, method, route, body=None, ok=(200,), admin=False):
        url = self.api_url + route
        headers = {"accept": "application/json"}
        # Each route gets the one credential it accepts, so a run token never reaches an admin
        # route and the admin key never a run route (where it opens nothing anyway).
        if admin and self.admin_key:
            headers["x-functions-key"] = self.admin_key
        elif not admin and self.token:
            headers["authorization"] = "Bearer " + self.token
        data = None
        if body is not None:
            # allow_nan=False: NaN/Infinity are not JSON; fail here, not with a 400 from the service.
            data = json.dumps(body, allow_nan=False).encode("utf-8")
            headers["content-type"] = "application/json"
        what = "%s %s" % (method, route.split("?")[0])
        for attempt in range(self.retry.attempts):
            last = attempt + 1 == self.retry.attempts
            try:
                resp = self._transport.request(method, url, data, headers)
            except Exception as e:
                if not is_connection_error(e):
                    raise
                if last:
                    raise CheckpointError("ConnectionFailed", "%s: %s" % (what, e)) from e
                self.retry.sleep(self.retry.delay(attempt))
                continue
            if resp.status in ok:
                return resp
            if resp.status in RETRYABLE_STATUS and not last:
                self.retry.sleep(self.retry.delay(attempt, retry_after_seconds(resp)))
                continue
            raise error_from(resp, what)
        raise AssertionError("unreachable")

    def _blob_call(self, book, rel, method, query, body, headers, what, sink_factory=None):
        """One blob request through ``book``'s URL for ``rel``: retried on 5xx/429/connection errors,
        and re-signed (new URLs from the service) when storage says the URL no longer authenticates."""
        refreshes = 0
        attempt = 0
        while True:
            url, generation = book.url(rel)
            sink = sink_factory() if sink_factory else None
            try:
                resp = self._transport.request(method, url + query, body, headers, sink)
            except Exception as e:
                if not is_connection_error(e):
                    raise
                attempt += 1
                if attempt >= self.retry.attempts:
                    raise CheckpointError("ConnectionFailed", "%s at %s: %s" % (what, redact(url), e)) from e
                self.retry.sleep(self.retry.delay(attempt - 1))
                continue
            if 200 <= resp.status < 300:
                return resp
            if resp.status == 403 and refreshes < 3 and _auth_failed(resp):
                refreshes += 1
                book.refresh(generation, rel)
                continue
            attempt += 1
            if resp.status in RETRYABLE_STATUS and attempt < self.retry.attempts:
                self.retry.sleep(self.retry.delay(attempt - 1, retry_after_seconds(resp)))
                continue
            raise error_from(resp, what)

    def _progress(self, label, total):
        show = sys.stderr.isatty() if self.progress is None else bool(self.progress)
        return _Progress(label, total, show, self.on_progress)


class _UrlBook:
    """The current URLs of one upload or download, renewed before they expire or when refused.

    The deadline is measured on the client's clock from the moment the URLs arrived, so clock skew
    between trainer and service does not matter; the margin never exceeds half the lifetime, so a
    short lifetime cannot cause a refresh on every request.
    """

    def __init__(self, fetch, clock, margin, pending=None):
        self._fetch = fetch
        self._clock = clock
        self._margin = margin
        # Paths still needing a URL (uploads); None: every path the fetch returns (downloads).
        self._pending = None if pending is None else set(pending)
        self._lock = threading.Lock()
        self._generation = 0
        self._urls = {}  # path -> (url, generation of the fetch that issued it)
        self._deadline = None
        self.refreshes = 0
        with self._lock:
            self._load()

    def _load(self, extra=()):
        received = self._clock()
        pending = None
        if self._pending is not None:
            pending = sorted(self._pending | set(extra))
            if not pending:
                return
        urls, expires_on, server_date = self._fetch(pending)
        lifetime = _lifetime_seconds(expires_on, urls, server_date)
        self._generation += 1
        # Merged: a file left out of this renewal (its last write is under way) keeps its URL.
        self._urls.update((rel, (url, self._generation)) for rel, url in urls.items())
        self._deadline = None if lifetime is None else received + lifetime - min(self._margin, lifetime / 2)

    def url(self, rel):
        """(URL, its generation) for ``rel``, renewed first when the URLs are about to expire."""
        with self._lock:
            if self._deadline is not None and self._clock() >= self._deadline:
                self.refreshes += 1
                self._load()
            url, generation = self._urls.get(rel) or (None, None)
            if not url:
                raise CheckpointError("NoUrl", "the service gave no URL for %s" % rel)
            return url, generation

    def finishing(self, rel):
        """``rel``'s last write (Put Blob, Put Block List) is about to be sent: renewals stop asking
        for it. The service now discards only an earlier attempt's leftover, but services before
        that discarded whatever was stored, which a renewal racing this write would have deleted."""
        with self._lock:
            if self._pending is not None:
                self._pending.discard(rel)

    def refresh(self, generation, rel):
        """Storage refused ``rel``'s URL of ``generation``: new URLs, for ``rel`` too (the refused
        write did not happen), unless another thread renewed ``rel``'s URL meanwhile."""
        with self._lock:
            if self._urls.get(rel, (None, generation))[1] == generation:
                self.refreshes += 1
                self._load(extra=(rel,))


class _Progress:
    def __init__(self, label, total, show, callback):
        self.label = label
        self.total = total
        self.show = show
        self.callback = callback
        self.done = 0
        self.started = time.monotonic()
        self.printed = 0.0
        self._lock = threading.Lock()

    def add(self, n):
        with self._lock:
            self.done += n
            done = self.done
            now = time.monotonic()
            if self.show and (now - self.printed >= 0.2 or done >= self.total):
                self.printed = now
                sys.stderr.write("\r" + progress_line(self.label, done, self.total, now - self.started))
                sys.stderr.flush()
        if self.callback:
            self.callback(done, self.total)

    def close(self):
        if self.show and self.printed:
            sys.stderr.write("\n")
            sys.stderr.flush()


def progress_line(label, done, total, elapsed, width=24):
    """``label [#####-----]  12.0/48.0 MiB  25%  6.0 MiB/s  0:06 left`` (no newline)."""
    fraction = done / total if total else 1.0
    filled = int(round(width * min(1.0, fraction)))
    rate = done / max(elapsed, 1e-6)
    if done >= total:
        left = "done in %s" % _clock(elapsed)
    elif rate > 0:
        left = "%s left" % _clock((total - done) / rate)
    else:
        left = "--:-- left"
    return "%s [%s%s] %6.1f/%.1f MiB %3.0f%% %6.1f MiB/s  %s " % (
        label, "#" * filled, "-" * (width - filled), done / MiB, total / MiB, 100.0 * fraction, rate / MiB, left)


def size_text(n):
    """``293.0 KiB``: a byte count for people."""
    if n is None:
        return ""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024
    return "%.1f TiB" % n


def _clock(seconds):
    seconds = int(seconds + 0.5)
    if seconds >= 3600:
        return "%d:%02d:%02d" % (seconds // 3600, seconds // 60 % 60, seconds % 60)
    return "%d:%02d" % (seconds // 60, seconds % 60)


def manifest_from(rank_results, metrics=None, metadata=None):
    """One manifest from every rank's upload_checkpoint result (or its "files" list)."""
    files = []
    step = None
    for result in rank_results:
        if isinstance(result, dict):
            step = result.get("step", step)
            files.extend(result["files"])
        else:
            files.extend(result)
    manifest = {"files": files, "metrics": dict(metrics or {}), "metadata": dict(metadata or {})}
    if step is not None:
        manifest["step"] = step
    return manifest


def _manifest_file(index, f):
    if not f.get("etag"):
        # The service refuses it the same way; failing here names the file before anything is sent.
        raise CheckpointError("InvalidManifest", "files[%d].etag is required: the ETag the last write of %s "
                              "answered" % (index, f.get("path")), target="files[%d].etag" % index)
    out = {"path": f["path"], "size": int(f["size"]), "etag": f["etag"]}
    if f.get("sha256"):
        out["sha256"] = f["sha256"]
    return out


def _collect(files_or_dir, prefix):
    """[(checkpoint path, local file)] in a stable order."""
    pairs = []
    if isinstance(files_or_dir, (str, os.PathLike)):
        root = os.fspath(files_or_dir)
        if os.path.isdir(root):
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames.sort()
                for name in sorted(filenames):
                    local = os.path.join(dirpath, name)
                    rel = os.path.relpath(local, root).replace(os.sep, "/")
                    pairs.append((rel, local))
        elif os.path.isfile(root):
            pairs.append((os.path.basename(root), root))
        else:
            raise FileNotFoundError(root)
    elif hasattr(files_or_dir, "items"):
        pairs = [(str(rel).strip("/"), os.fspath(local)) for rel, local in files_or_dir.items()]
    else:
        pairs = [(os.path.basename(os.fspath(p)), os.fspath(p)) for p in files_or_dir]
    if not pairs:
        raise ValueError("no files to upload in %r" % (files_or_dir,))
    out = [(prefix + encode_path(rel), local) for rel, local in pairs]
    seen = set()
    for rel, _ in out:
        if rel in seen:
            raise ValueError("two files map to the checkpoint path " + rel)
        seen.add(rel)
    return out


def _local_path(root, rel):
    dest = os.path.abspath(os.path.join(root, *rel.split("/")))
    if os.path.commonpath([root, dest]) != root:
        raise CheckpointError("InvalidPath", "checkpoint path %s leaves the destination folder" % rel)
    return dest


def _check_size(rel, local, expected, actual):
    if expected != actual:
        raise CheckpointError("FileChanged", "%s (%s) was %d bytes when listed, %d when read" % (
            rel, local, expected, actual))


def _verify(rel, local, size, sha256):
    actual_size = os.path.getsize(local)
    if actual_size != size:
        raise CheckpointError("SizeMismatch", "%s: expected %d bytes, got %d" % (rel, size, actual_size))
    if sha256:
        actual = file_sha256(local)
        if actual != sha256.lower():
            raise CheckpointError("Sha256Mismatch", "%s: sha256 %s, manifest says %s" % (rel, actual, sha256))


def file_sha256(path):
    hasher = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(MiB), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def _results(futures):
    """Every future's result; on the first failure the rest are cancelled and the failure raised."""
    try:
        return [f.result() for f in futures]
    except BaseException as e:
        for f in futures:
            f.cancel()
        if not isinstance(e, KeyboardInterrupt):  # Ctrl-C leaves at once, not after the running requests
            concurrent.futures.wait(futures)
        raise


# An expired SAS: Azure answers 403 AuthenticationFailed ("Signature not valid in the specified time
# frame"), Azurite 403 AuthorizationFailure. Either way new URLs from the service are the remedy.
_EXPIRED_CODES = frozenset({"AuthenticationFailed", "AuthorizationFailure"})


def _auth_failed(resp):
    code = resp.header("x-ms-error-code")
    if code is None:
        code = error_from(resp, "").code
    return code in _EXPIRED_CODES


def _lifetime_seconds(expires_on, urls, server_date):
    """Seconds the URLs stay valid: from expiresOn, else from the SAS expiry (se) of the URLs,
    counted from the service's Date header when it sent one (the trainer's clock may be off)."""
    candidates = []
    if expires_on:
        candidates.append(_parse_time(expires_on))
    else:
        for url in urls.values():
            if url:
                se = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get("se")
                if se:
                    candidates.append(_parse_time(se[0]))
    candidates = [c for c in candidates if c is not None]
    if not candidates:
        return None
    now = _parse_time(server_date) if server_date else None
    return max(0.0, min(candidates) - (time.time() if now is None else now))


def _parse_time(text):
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc).timestamp()
    except ValueError:
        try:
            return email.utils.parsedate_to_datetime(text).timestamp()
        except (TypeError, ValueError):
            return None


def _check_transport(api_url, credential):
    """A valid http(s) URL; a credential goes over plain http only to this machine."""
    parts = urllib.parse.urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("base URL must be http(s)://host[:port], got %r" % api_url[: -len("/api")])
    if credential and parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError("refusing to send a credential over plain http to %s: use https:// (http is "
                         "allowed only for 127.0.0.0/8, ::1 and localhost)" % parts.hostname)


def _is_loopback(host):
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _q(segment):
    return urllib.parse.quote(str(segment), safe="")
