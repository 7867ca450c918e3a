"""``ckptvault sync``: upload the checkpoints a trainer writes to local disk, each once, in the background.

A checkpoint is a directory (or, for Lightning, a file) in the watched directory whose name matches a
pattern with the step in it. It is *finished* when its marker file exists (written last by the
framework) and its files (names, sizes, modification times) have not changed for ``settle``
seconds. A finished checkpoint is uploaded, its files are looked at again, and it is committed only
if nothing changed meanwhile (otherwise it waits to settle again and is uploaded anew).

The service is the truth about what is done: before uploading a step, sync asks for it, and a
COMMITTED step is never uploaded again (its local files are compared with the committed ones
instead). A small state file remembers the manifest of a step between upload and commit, so a
restart (kill -9 included) re-sends that identical manifest, which the service answers the same.
"""

import heapq
import json
import os
import re
import shutil
import sys
import threading
import time

from .client import file_sha256, size_text
from .errors import CheckpointError
from .paths import encode_path

# (pattern matched against the whole name, marker inside the directory or None for a file, kind, framework)
PRESETS = {
    "dcp": (r"(?:step|checkpoint|ckpt|global_step|iter)[-_]?(?P<step>\d+)", ".metadata", "dir", "torch-dcp"),
    "hf": (r"checkpoint-(?P<step>\d+)", "trainer_state.json", "dir", "hf-trainer"),
    "lightning": (r"(?!\.)(?:.*[^A-Za-z0-9])?step=(?P<step>\d+)(?:[^0-9][^/]*)?\.ckpt", None, "file", "lightning"),
}

_DONE_ELSEWHERE = frozenset({"DELETING", "DELETED"})
_NEEDS_ADMIN = frozenset({"FAILED", "TAMPERED"})
_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
MAX_CHANGED_ATTEMPTS = 3


class SyncConfigError(ValueError):
    """Options that do not describe a checkpoint layout (a usage error)."""


class _Changed(Exception):
    """The checkpoint's files changed while they were uploaded."""


def _log(message):
    sys.stderr.write("ckptvault sync: %s\n" % message)
    sys.stderr.flush()


def snapshot(path, kind):
    """What the checkpoint looks like now: sorted (relative path, size, mtime_ns) of every file."""
    if kind == "file":
        st = os.stat(path)
        return ((os.path.basename(path), st.st_size, st.st_mtime_ns),)
    out = []
    for dirpath, dirnames, filenames in os.walk(path, onerror=_raise):
        dirnames.sort()
        for name in filenames:
            full = os.path.join(dirpath, name)
            st = os.stat(full)
            out.append((os.path.relpath(full, path).replace(os.sep, "/"), st.st_size, st.st_mtime_ns))
    return tuple(sorted(out))


def _raise(error):
    raise error


class StateFile:
    """{"runId", "steps": {step: {"status": "uploaded"|"committed", "name", "snapshot", "manifest"?}}},
    written whole to a temporary file and renamed, so a kill leaves the old or the new version."""

    def __init__(self, path, run_id):
        self.path = path
        self.run_id = run_id
        self.steps = {}
        try:
            with open(path, "r", encoding="utf-8") as fh:
                data = json.load(fh)
            if data.get("runId") == run_id:
                self.steps = {int(k): v for k, v in (data.get("steps") or {}).items()}
        except FileNotFoundError:
            pass
        except (ValueError, OSError, AttributeError) as e:
            # Only a cache of what the service knows: start afresh rather than stop.
            _log("ignoring unreadable state file %s (%s)" % (path, e))

    def get(self, step):
        return self.steps.get(step)

    def put(self, step, record):
        self.steps[step] = record
        self._write()

    def drop(self, step):
        if self.steps.pop(step, None) is not None:
            self._write()

    def _write(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"runId": self.run_id, "steps": {str(k): v for k, v in sorted(self.steps.items())}}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


class _Tracked:
    __slots__ = ("step", "name", "path", "snap", "since", "status", "attempts", "not_before")

    def __init__(self, step, name, path, snap, now):
        self.step = step
        self.name = name
        self.path = path
        self.snap = snap
        self.since = now
        self.status = "settling"  # settling -> queued -> uploading -> committed | skipped
        self.attempts = 0
        self.not_before = 0.0


class Syncer:
    def __init__(self, client, run_id, watch, fmt=None, pattern=None, marker=None, keep_local=None,
                 interval=2.0, settle=2.0, state_file=None, once=False):
        if fmt is None and (pattern is None or marker is None):
            raise SyncConfigError("say what a finished checkpoint looks like: --format dcp|hf|lightning, "
                                  "or --pattern REGEX --marker NAME")
        preset = PRESETS.get(fmt, (None, None, "dir", "custom"))
        self.kind = preset[2]
        self.framework = preset[3]
        if self.kind == "file" and marker is not None:
            raise SyncConfigError("--format lightning watches files: a --marker does not apply")
        self.marker = marker if marker is not None else preset[1]
        if self.marker is not None and (not self.marker or "/" in self.marker or self.marker in (".", "..")):
            raise SyncConfigError("--marker must be a file name, got %r" % self.marker)
        try:
            self.pattern = re.compile(pattern if pattern is not None else preset[0])
        except re.error as e:
            raise SyncConfigError("--pattern is not a regular expression: %s" % e)
        if not self.pattern.groups:
            raise SyncConfigError("--pattern needs a group for the step, e.g. 'step-(?P<step>\\d+)'")
        self.step_group = "step" if "step" in self.pattern.groupindex else 1
        if not os.path.isdir(watch):
            raise SyncConfigError("--watch %s is not a directory" % watch)
        if interval <= 0 or settle < 0:
            raise SyncConfigError("--interval must be > 0 and --settle >= 0")
        self.client = client
        self.run_id = run_id
        self.watch = os.path.abspath(watch)
        self.keep_local = keep_local
        self.interval = interval
        self.settle = settle
        self.once = once
        self.state = StateFile(state_file or os.path.join(self.watch, ".ckptvault-sync-%s.json" % run_id), run_id)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._tracked = {}
        self._queue = []
        self._error = None
        self._stopping = False
        self._remote_hint = {}
        self._warned = set()
        self._summary = {"runId": run_id, "watch": self.watch, "committed": [], "alreadyCommitted": [],
                         "skipped": [], "removedLocal": []}

    # ------------------------------------------------------------------ main loop (watcher)

    def run(self):
        self._remote_hint = self._remote_states()
        worker = threading.Thread(target=self._upload_loop, name="ckptvault-sync-upload", daemon=True)
        worker.start()
        while True:
            self._scan()
            with self._lock:
                if self._error is not None:
                    raise self._error
                if self.once and self._idle():
                    break
                self._wake.wait(self.interval if not self.once else min(self.interval, max(self.settle / 2, 0.05)))
        with self._lock:
            self._stopping = True
            self._wake.notify_all()
        worker.join()
        if self.keep_local:
            self._keep_local()
        _log("done: %d committed now, %d already committed, %d skipped, %d local copies removed" % tuple(
            len(self._summary[k]) for k in ("committed", "alreadyCommitted", "skipped", "removedLocal")))
        return self._summary

    def summary(self):
        with self._lock:
            return json.loads(json.dumps(self._summary))

    def _idle(self):
        return all(t.status in ("committed", "skipped") for t in self._tracked.values())

    def _remote_states(self):
        """{step: state} of the run on the service (a hint; each step is asked again before upload)."""
        try:
            listing = self.client.checkpoints(self.run_id, limit=10 ** 9)
        except CheckpointError as e:
            if e.status == 404:
                return {}
            if _transient(e):  # only a hint: every step is asked for again anyway
                _log("cannot list the run's checkpoints yet: %s" % e)
                return {}
            raise
        return {c["step"]: c["state"] for c in listing["checkpoints"]}

    def _scan(self):
        now = time.monotonic()
        found = {}
        try:
            names = os.listdir(self.watch)
        except OSError as e:
            raise CheckpointError("LocalFileError", "cannot list %s: %s" % (self.watch, e.strerror))
        for name in names:
            m = self.pattern.fullmatch(name)
            if not m:
                continue
            path = os.path.join(self.watch, name)
            if not (os.path.isfile(path) if self.kind == "file" else os.path.isdir(path)):
                continue
            step = int(m.group(self.step_group))
            if step in found:
                found[step] = None  # two checkpoints claim one step: neither is uploaded
                if step not in self._warned:
                    self._warned.add(step)
                    _log("two checkpoints in %s have step %d; neither is uploaded" % (self.watch, step))
                continue
            found[step] = (name, path)
        with self._lock:
            for step in [s for s in self._tracked if found.get(s) is None]:
                t = self._tracked[step]
                if t.status in ("settling", "committed", "skipped"):
                    del self._tracked[step]
            for step, entry in found.items():
                if entry is None:
                    continue
                name, path = entry
                if self.marker and not os.path.isfile(os.path.join(path, self.marker)):
                    continue  # not finished: the framework writes the marker last
                try:
                    snap = snapshot(path, self.kind)
                except OSError:
                    continue  # changing under our feet; look again next time
                t = self._tracked.get(step)
                if t is None or t.name != name:
                    self._tracked[step] = _Tracked(step, name, path, snap, now)
                    continue
                if t.status != "settling":
                    continue
                if snap != t.snap:
                    t.snap, t.since = snap, now
                elif now - t.since >= self.settle and now >= t.not_before:
                    t.status = "queued"
                    heapq.heappush(self._queue, step)
                    self._wake.notify_all()

    # ------------------------------------------------------------------ uploader (one step at a time)

    def _upload_loop(self):
        while True:
            with self._lock:
                while not self._queue and not self._stopping and self._error is None:
                    self._wake.wait()
                if self._stopping or self._error is not None:
                    return
                step = heapq.heappop(self._queue)
                t = self._tracked.get(step)
                if t is None or t.status != "queued":
                    continue
                t.status = "uploading"
            try:
                outcome = self._sync_step(t)
            except _Changed as e:
                outcome = self._retry_later(t, str(e))
            except CheckpointError as e:
                if e.code == "FileChanged":  # a size changed while the client read the file
                    outcome = self._retry_later(t, str(e))
                elif _transient(e):
                    outcome = e if self.once else self._retry_later(t, str(e), transient=True)
                else:
                    outcome = e
            except OSError as e:
                if not os.path.exists(t.path):
                    _log("step %d: %s vanished before it was committed; skipped" % (step, t.name))
                    outcome = "skipped"
                else:
                    outcome = self._retry_later(t, "local file error: %s" % e)
            except BaseException as e:  # a bug: stop the whole sync rather than lose a thread silently
                outcome = e
            with self._lock:
                if isinstance(outcome, BaseException):
                    self._error = outcome
                elif outcome in ("committed", "skipped"):
                    t.status = outcome
                self._wake.notify_all()
            if outcome == "committed" and self.keep_local:
                try:
                    self._keep_local()
                except CheckpointError as e:
                    _log("keeping local copies: %s" % e)

    def _retry_later(self, t, why, transient=False):
        t.attempts += 1
        if self.once and t.attempts >= MAX_CHANGED_ATTEMPTS:
            return CheckpointError("CheckpointChanged", "step %d (%s) not committed after %d attempts: %s"
                                   % (t.step, t.name, t.attempts, why))
        delay = min(60.0, 2.0 ** t.attempts) if transient else 0.0
        _log("step %d: %s; trying again%s" % (t.step, why, " in %.0f s" % delay if delay else " once it settles"))
        with self._lock:
            t.status = "settling"
            t.since = time.monotonic()
            t.not_before = time.monotonic() + delay
        return "retry"

    def _sync_step(self, t):
        step = t.step
        record = self.state.get(step)
        snap = t.snap
        hint = self._remote_hint.pop(step, None)
        if hint == "COMMITTED" and record and record.get("status") == "committed" \
                and _same_snapshot(record.get("snapshot"), snap):
            self._note("alreadyCommitted", step)
            return "committed"
        remote = self._remote(step)
        state = remote and remote.get("state")
        if state == "COMMITTED":
            self._check_same(t, remote, record)
            _log("step %d is already committed with these files: not uploaded again" % step)
            self._note("alreadyCommitted", step)
            return "committed"
        if state in _DONE_ELSEWHERE:
            _log("step %d is %s on the service: not uploaded again" % (step, state))
            self._note("skipped", {"step": step, "reason": state})
            return "skipped"
        if state in _NEEDS_ADMIN:
            raise CheckpointError("CheckpointNotWritable", "step %d of run %s is %s on the service; an admin must "
                                  "delete it (ckptvault delete) before it can be uploaded again"
                                  % (step, self.run_id, state), 409)
        if state == "COMMITTING":
            if not (record and record.get("manifest") and _same_snapshot(record.get("snapshot"), snap)):
                # A manifest this sync does not have: wait for the service to settle it.
                remote = self._wait_settled(step)
                if remote.get("state") == "COMMITTED":
                    self._check_same(t, remote, record)
                    self._note("alreadyCommitted", step)
                    return "committed"
                raise CheckpointError("CommitStuck", "step %d of run %s is %s with a manifest from another "
                                      "attempt (missing %s)" % (step, self.run_id, remote.get("state"),
                                                                 remote.get("missing")), 409)
            manifest = record["manifest"]
        else:
            started = time.monotonic()
            _log("step %d: uploading %s (%d files, %s)" % (step, t.name, len(snap),
                                                           size_text(sum(e[1] for e in snap))))
            source = t.path if self.kind == "dir" else {t.name: t.path}
            metadata = {"framework": self.framework, "syncedFrom": t.name[:1024]}
            result = self.client.upload_checkpoint(self.run_id, step, source, metadata=metadata, commit=False)
            if snapshot(t.path, self.kind) != snap:
                raise _Changed("%s changed while it was uploaded" % t.name)
            manifest = {"files": result["files"], "metrics": {}, "metadata": metadata}
            # Before the commit: a restart then re-sends this very manifest (same answer), never another.
            self.state.put(step, {"status": "uploaded", "name": t.name, "snapshot": _jsonable(snap),
                                  "manifest": manifest})
            _log("step %d: uploaded %d files (%s) in %.1f s" % (step, len(result["files"]),
                                                                 size_text(sum(f["size"] for f in result["files"])),
                                                                 time.monotonic() - started))
        committed = self.client.commit(self.run_id, step, manifest)
        self.state.put(step, {"status": "committed", "name": t.name, "snapshot": _jsonable(snap)})
        _log("step %d committed (%d files, %s)" % (step, len(committed.get("files") or []),
                                                 size_text(committed.get("bytes") or 0)))
        self._note("committed", step)
        return "committed"

    def _remote(self, step):
        try:
            return self.client.checkpoint(self.run_id, step)
        except CheckpointError as e:
            if e.status == 404:
                return None
            raise

    def _wait_settled(self, step):
        deadline = time.monotonic() + self.client.commit_timeout
        pause = 0.2
        while True:
            remote = self._remote(step) or {}
            if remote.get("state") != "COMMITTING" or time.monotonic() >= deadline:
                return remote
            time.sleep(pause)
            pause = min(2.0, pause * 2)

    def _check_same(self, t, remote, record):
        """A COMMITTED step must hold exactly the local files; otherwise sync stops (never overwrites)."""
        if record and _same_snapshot(record.get("snapshot"), t.snap) and (
                record.get("status") == "committed" or _same_files(record.get("manifest"), remote)):
            # This sync committed these very files (possibly without hearing the answer: kill -9).
            self.state.put(t.step, {"status": "committed", "name": t.name, "snapshot": _jsonable(t.snap)})
            return
        if self.kind == "file":
            local = {encode_path(t.name): t.path}
        else:
            local = {encode_path(rel): os.path.join(t.path, *rel.split("/")) for rel, _, _ in t.snap}
        theirs = {f["path"]: f for f in remote.get("files") or []}
        differ = sorted(set(local) ^ set(theirs))
        for path in sorted(set(local) & set(theirs)):
            f = theirs[path]
            if os.path.getsize(local[path]) != f.get("size") or (
                    f.get("sha256") and file_sha256(local[path]) != f["sha256"].lower()):
                differ.append(path)
        if differ:
            raise CheckpointError("ContentConflict", "step %d of run %s is COMMITTED with other content than %s "
                                  "(differs: %s); not uploaded" % (t.step, self.run_id, t.path, ", ".join(differ[:5])),
                                  409)
        self.state.put(t.step, {"status": "committed", "name": t.name, "snapshot": _jsonable(t.snap)})

    def _keep_local(self):
        """Deletes local copies beyond the newest ``keep_local`` committed ones; the service is asked
        first, and only a step it says is COMMITTED is ever deleted."""
        with self._lock:
            committed = sorted((t for t in self._tracked.values() if t.status == "committed"),
                               key=lambda t: t.step, reverse=True)
        for t in committed[self.keep_local:]:
            remote = self._remote(t.step)
            if not remote or remote.get("state") != "COMMITTED":
                continue
            if self.kind == "file":
                os.remove(t.path)
            else:
                shutil.rmtree(t.path)
            with self._lock:
                self._tracked.pop(t.step, None)
                self._summary["removedLocal"].append(t.step)
            self.state.drop(t.step)
            _log("step %d: removed local copy %s (committed; --keep-local %d)" % (t.step, t.name, self.keep_local))

    def _note(self, key, value):
        with self._lock:
            self._summary[key].append(value)


def _transient(error):
    return error.code == "ConnectionFailed" or error.status in _TRANSIENT_STATUS


def _jsonable(snap):
    return [list(e) for e in snap]


def _same_snapshot(stored, snap):
    return stored is not None and [list(e) for e in snap] == stored


def _same_files(manifest, remote):
    def key(files):
        return sorted((f["path"], int(f["size"]), (f.get("sha256") or "").lower()) for f in files or [])
    return manifest is not None and key(manifest.get("files")) == key(remote.get("files"))
