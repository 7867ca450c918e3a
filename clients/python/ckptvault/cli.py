"""The ``ckptvault`` command line: standard library only (argparse). Reference: docs/cli.md.

Exit codes: 0 ok; 1 the service refused or a checkpoint error (conflict, integrity, local file);
2 usage (bad arguments, bad URL, credential over plain http); 3 not found / no committed checkpoint;
4 unauthenticated or forbidden; 5 service or storage unavailable after retries; 130 interrupted.
"""

import argparse
import json
import math
import os
import sys
import time

from . import __version__
from ._http import RETRYABLE_STATUS, RetryPolicy
from .client import CheckpointClient, size_text
from .errors import CheckpointError
from .paths import decode_path

OK, REFUSED, USAGE, NOT_FOUND, AUTH, UNAVAILABLE, INTERRUPTED = 0, 1, 2, 3, 4, 5, 130

STATES = ("UPLOADING", "COMMITTING", "COMMITTED", "FAILED", "TAMPERED", "ABANDONED", "DELETING", "DELETED")


class UsageError(Exception):
    """Bad arguments found after parsing (exit 2)."""


def exit_code(error):
    """The documented exit code for a CheckpointError."""
    if error.status in (401, 403):
        return AUTH
    if error.status == 404 or error.code in ("NoCommittedCheckpoint", "NotFound"):
        return NOT_FOUND
    if error.code == "ConnectionFailed" or (error.status is not None and error.status in RETRYABLE_STATUS):
        return UNAVAILABLE
    return REFUSED


# ---------------------------------------------------------------------------------------- parsing


def build_parser():
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a global option given before the command is not reset by the command's parser.
    g = common.add_argument_group("connection (also accepted before the command)")
    g.add_argument("--url", default=argparse.SUPPRESS, help="the app's root URL (env CKPT_URL)")
    g.add_argument("--token", default=argparse.SUPPRESS, help="run token (env CKPT_TOKEN)")
    g.add_argument("--admin-key", default=argparse.SUPPRESS, help="admin key (env CKPT_ADMIN_KEY)")
    g.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                   help="print one JSON document on stdout instead of tables")
    g.add_argument("--no-progress", action="store_true", default=argparse.SUPPRESS,
                   help="no progress bar even on a terminal")
    g.add_argument("--retries", type=int, default=argparse.SUPPRESS, metavar="N",
                   help="attempts per request on 5xx, 429 and connection errors (default 6)")
    g.add_argument("--block-kib", type=int, default=argparse.SUPPRESS, metavar="KIB",
                   help="block size of uploads and downloads (default 8192)")
    g.add_argument("--workers", type=int, default=argparse.SUPPRESS, metavar="N",
                   help="parallel block requests (default 8)")

    parser = argparse.ArgumentParser(
        prog="ckptvault", parents=[common],
        description="Checkpoints in ckptvault: list, upload, download, retention, run tokens, sync.",
        epilog="Exit codes: 0 ok, 1 refused/checkpoint error, 2 usage, 3 not found, "
               "4 unauthenticated/forbidden, 5 unavailable after retries, 130 interrupted.")
    parser.add_argument("--version", action="version", version="ckptvault " + __version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def command(name, help_text):
        return sub.add_parser(name, parents=[common], help=help_text, description=help_text)

    command("runs", "list runs (admin key)")

    p = command("ls", "list a run's checkpoints, newest first")
    p.add_argument("run")
    p.add_argument("--state", type=str.upper, choices=STATES)
    p.add_argument("--limit", type=positive, default=100)

    p = command("show", "one checkpoint: state, metrics, files")
    p.add_argument("run")
    p.add_argument("step", type=step_number)

    p = command("latest", "the newest COMMITTED checkpoint (exit 3 when there is none)")
    p.add_argument("run")

    p = command("upload", "upload a directory as checkpoint STEP and commit it")
    p.add_argument("run")
    p.add_argument("step", type=step_number)
    p.add_argument("dir")
    p.add_argument("--metric", action="append", default=[], type=metric, metavar="KEY=NUMBER")
    p.add_argument("--metadata", action="append", default=[], type=key_value, metavar="KEY=TEXT")

    p = command("download", "download checkpoint STEP (or latest) into DIR, verifying sizes and sha256")
    p.add_argument("run")
    p.add_argument("step", type=step_or_latest, metavar="STEP|latest")
    p.add_argument("dir")

    p = command("plan", "retention dry run: what is kept or removed, and why")
    p.add_argument("run")

    for name, what in (("pin", "protect a COMMITTED checkpoint from retention (admin key)"),
                       ("unpin", "release a pin (admin key)")):
        p = command(name, what)
        p.add_argument("run")
        p.add_argument("step", type=step_number)

    p = command("policy", "the run's retention policy")
    psub = p.add_subparsers(dest="policy_command", metavar="get|set")
    psub.required = True
    pg = psub.add_parser("get", parents=[common], help="show the effective policy")
    pg.add_argument("run")
    ps = psub.add_parser("set", parents=[common],
                         help="replace the policy (admin key); fields not given fall back to the defaults")
    ps.add_argument("run")
    ps.add_argument("--keep-last", type=non_negative, metavar="N")
    ps.add_argument("--keep-every", type=non_negative, metavar="K")
    ps.add_argument("--keep-best", type=keep_best, metavar="METRIC:min|max:COUNT")
    ps.add_argument("--min-age-minutes", type=non_negative, metavar="M")
    ps.add_argument("--incomplete-ttl-minutes", type=non_negative, metavar="T")
    ps.add_argument("--action", choices=("delete", "cool"))

    p = command("delete", "delete a checkpoint now (admin key)")
    p.add_argument("run")
    p.add_argument("step", type=step_number)
    p.add_argument("--force", action="store_true", help="also the only committed or a pinned checkpoint")

    p = command("token", "run tokens (admin key)")
    tsub = p.add_subparsers(dest="token_command", metavar="create|revoke")
    tsub.required = True
    tc = tsub.add_parser("create", parents=[common], help="issue a run token; prints it on stdout")
    tc.add_argument("run")
    tc.add_argument("--scope", required=True, choices=("write", "read"))
    tc.add_argument("--ttl-minutes", type=positive, metavar="N")
    tr = tsub.add_parser("revoke", parents=[common], help="revoke every token issued for the run so far")
    tr.add_argument("run")

    p = command("sync", "upload every finished checkpoint a trainer writes to DIR, in the background")
    p.add_argument("--run", required=True)
    p.add_argument("--watch", required=True, metavar="DIR")
    p.add_argument("--format", choices=("dcp", "hf", "lightning"),
                   help="dcp: DIR/<step-N>/.metadata; hf: DIR/checkpoint-N/trainer_state.json; "
                        "lightning: DIR/*step=N*.ckpt")
    p.add_argument("--pattern", metavar="REGEX",
                   help="name of a checkpoint in DIR, with a group (named 'step' or the first) for the step")
    p.add_argument("--marker", metavar="NAME", help="file inside a checkpoint directory written last")
    p.add_argument("--once", action="store_true", help="process what is there, then exit")
    p.add_argument("--keep-local", type=positive, metavar="K",
                   help="delete local copies beyond the newest K committed ones (never an uncommitted one)")
    p.add_argument("--interval", type=float, default=2.0, metavar="SECONDS", help="scan interval (default 2)")
    p.add_argument("--settle", type=float, default=2.0, metavar="SECONDS",
                   help="files must be unchanged this long before an upload (default 2)")
    p.add_argument("--state-file", metavar="PATH", help="default DIR/.ckptvault-sync-RUN.json")
    return parser


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def non_negative(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def step_number(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a step is a whole number, got %r" % text)
    if not 0 <= value < 10 ** 12:
        raise argparse.ArgumentTypeError("a step is between 0 and 10^12-1")
    return value


def step_or_latest(text):
    return "latest" if text == "latest" else step_number(text)


def key_value(text):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError("expected KEY=VALUE, got %r" % text)
    return key, value


def metric(text):
    key, value = key_value(text)
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError("metric %s: %r is not a number" % (key, value))
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError("metric %s must be finite" % key)
    return key, number


def keep_best(text):
    parts = text.rsplit(":", 2)
    if len(parts) != 3 or not parts[0] or parts[1] not in ("min", "max"):
        raise argparse.ArgumentTypeError("expected METRIC:min|max:COUNT, got %r" % text)
    try:
        count = positive(parts[2])
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError("keep-best COUNT must be a whole number >= 1, got %r" % parts[2])
    return {"metric": parts[0], "mode": parts[1], "count": count}


# ---------------------------------------------------------------------------------------- output


class Output:
    def __init__(self, as_json):
        self.as_json = as_json

    def document(self, doc, human):
        """One JSON document, or the human rendering ``human()``."""
        if self.as_json:
            sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        else:
            human()
        sys.stdout.flush()


def table(rows, headers):
    cells = [[str(c) for c in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for r in cells:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def when(text):
    """An API time to the second (the service may send nanoseconds)."""
    if not text:
        return text
    head, dot, rest = text.partition(".")
    return head + "Z" if dot and rest.endswith("Z") else text


def metrics_text(metrics):
    return " ".join("%s=%s" % (k, _num(v)) for k, v in sorted((metrics or {}).items()))


def _num(v):
    return ("%.6g" % v) if isinstance(v, float) else str(v)


def without_urls(node):
    """The service's answer minus read/write URLs: a SAS signature is never printed."""
    if isinstance(node, dict):
        return {k: without_urls(v) for k, v in node.items() if k != "url"}
    if isinstance(node, list):
        return [without_urls(v) for v in node]
    return node


def print_checkpoint(c):
    pairs = [("run", c.get("runId")), ("step", c.get("step")), ("state", c.get("state")),
             ("tier", c.get("tier")), ("pinned", "yes" if c.get("pinned") else "no"),
             ("bytes", size_text(c.get("bytes"))), ("created", when(c.get("createdAt"))),
             ("committed", when(c.get("committedAt"))), ("metrics", metrics_text(c.get("metrics")))]
    if c.get("missing"):
        pairs.append(("missing", ", ".join(c["missing"])))
    if c.get("extra"):
        pairs.append(("extra", ", ".join(c["extra"])))
    for key, value in pairs:
        if value not in (None, ""):
            print("%-10s %s" % (key, value))
    files = c.get("files") or []
    if files:
        print()
        table([(decode_path(f["path"]), size_text(f.get("size")), f.get("sha256") or "") for f in files],
              ("PATH", "SIZE", "SHA256"))


# ---------------------------------------------------------------------------------------- commands


def cmd_runs(client, args, out):
    doc = client.runs()
    out.document(doc, lambda: table(
        [(r.get("runId"), r.get("latestCommittedStep"),
          " ".join("%s=%d" % kv for kv in sorted((r.get("counts") or {}).items())),
          size_text(r.get("bytes")), when(r.get("createdAt"))) for r in doc["runs"]],
        ("RUN", "LATEST", "CHECKPOINTS", "BYTES", "CREATED")))


def cmd_ls(client, args, out):
    doc = client.checkpoints(args.run, state=args.state, limit=args.limit)

    def human():
        table([(c.get("step"), c.get("state"), c.get("tier"), size_text(c.get("bytes")),
                "pinned" if c.get("pinned") else "", when(c.get("committedAt") or c.get("createdAt")),
                metrics_text(c.get("metrics"))) for c in doc["checkpoints"]],
              ("STEP", "STATE", "TIER", "BYTES", "PIN", "COMMITTED/CREATED", "METRICS"))
        if doc.get("next"):
            sys.stderr.write("(more checkpoints: raise --limit)\n")

    out.document(doc, human)


def cmd_show(client, args, out):
    c = client.checkpoint(args.run, args.step)
    out.document(without_urls(c), lambda: print_checkpoint(c))


def cmd_latest(client, args, out):
    c = client.latest(args.run)
    if c is None:
        raise CheckpointError("NoCommittedCheckpoint", "run %s has no committed checkpoint" % args.run, 404)
    out.document(without_urls(c), lambda: print_checkpoint(c))


def cmd_upload(client, args, out):
    if not os.path.isdir(args.dir):
        raise UsageError("%s is not a directory" % args.dir)
    result = client.upload_checkpoint(args.run, args.step, args.dir, metrics=dict(args.metric),
                                      metadata=dict(args.metadata), commit=True)
    c = result["checkpoint"]
    out.document(without_urls(c), lambda: print_checkpoint(c))


def cmd_download(client, args, out):
    started = time.monotonic()
    c = client.download_checkpoint(args.run, args.step, args.dir)
    files = [{"path": decode_path(f["path"]), "size": f["size"], "sha256": f.get("sha256")} for f in c["files"]]
    doc = {"runId": c["runId"], "step": c["step"], "dest": os.path.abspath(args.dir), "files": files,
           "bytes": sum(f["size"] for f in files), "verified": "sha256" if all(f["sha256"] for f in files) else "size"}

    def human():
        print("downloaded %s step %d: %d files, %s in %.1f s into %s (%s verified)" % (
            doc["runId"], doc["step"], len(files), size_text(doc["bytes"]), time.monotonic() - started,
            doc["dest"], doc["verified"]))

    out.document(doc, human)


def cmd_plan(client, args, out):
    plan = client.plan(args.run)

    def human():
        rows = [(k.get("step"), k.get("state"), "keep", "; ".join(k.get("reasons") or []))
                for k in plan.get("keep", [])]
        rows += [(r.get("step"), r.get("state"), "remove (%s)" % r.get("action", "delete"), r.get("reason", ""))
                 for r in plan.get("remove", [])]
        rows.sort(key=lambda r: -int(r[0]))
        table(rows, ("STEP", "STATE", "DECISION", "REASONS"))
        if plan.get("policyProblem"):
            print("policy problem: %s" % plan["policyProblem"])

    out.document(plan, human)


def cmd_pin(client, args, out):
    doc = client.pin(args.run, args.step) if args.command == "pin" else client.unpin(args.run, args.step)
    out.document(doc, lambda: print("%s %s step %d" % ("pinned" if args.command == "pin" else "unpinned",
                                                      args.run, args.step)))


def cmd_policy(client, args, out):
    if args.policy_command == "get":
        doc = client.run(args.run)
    else:
        retention = {}
        for field, value in (("keepLast", args.keep_last), ("keepEvery", args.keep_every),
                             ("keepBest", args.keep_best), ("minAgeMinutes", args.min_age_minutes),
                             ("incompleteTtlMinutes", args.incomplete_ttl_minutes), ("action", args.action)):
            if value is not None:
                retention[field] = value
        if not retention:
            raise UsageError("policy set needs at least one of --keep-last, --keep-every, --keep-best, "
                             "--min-age-minutes, --incomplete-ttl-minutes, --action")
        doc = client.put_run(args.run, retention)

    def human():
        policy = doc.get("retention") or {}
        given = doc.get("retentionSet")
        for key in sorted(policy):
            value = policy[key]
            if isinstance(value, dict):
                value = "%s:%s:%s" % (value.get("metric"), value.get("mode"), value.get("count"))
            note = "" if given is None else ("  (set)" if key in given else "  (default)")
            print("%-22s %s%s" % (key, value, note))

    out.document(doc, human)


def cmd_delete(client, args, out):
    try:
        doc = client.delete_checkpoint(args.run, args.step, force=args.force)
    except CheckpointError as e:
        if e.code in ("OnlyCommittedCheckpoint", "CheckpointPinned"):
            # The service's remedy names its query parameter; on the command line it is --force.
            raise CheckpointError(e.code, e.message.replace("?force=true", "--force"), e.status, e.target)
        raise
    out.document(doc, lambda: print("%s step %d: %s%s" % (
        args.run, args.step, doc.get("state", "deleted"), (" (%s)" % doc["detail"]) if doc.get("detail") else "")))


def cmd_token(client, args, out):
    if args.token_command == "create":
        doc = client.create_token(args.run, args.scope, args.ttl_minutes)

        def human():
            # The token alone on stdout, so that CKPT_TOKEN=$(ckptvault token create ...) works.
            sys.stderr.write("%s token for run %s, expires %s\n" % (doc.get("scope"), doc.get("runId"),
                                                                     doc.get("expiresOn")))
            print(doc["token"])

        out.document(doc, human)
    else:
        doc = client.revoke_tokens(args.run)
        out.document(doc, lambda: print("revoked every token issued for run %s so far" % args.run))


def cmd_sync(client, args, out):
    from .sync import Syncer, SyncConfigError

    try:
        syncer = Syncer(client, args.run, args.watch, fmt=args.format, pattern=args.pattern,
                        marker=args.marker, keep_local=args.keep_local, interval=args.interval,
                        settle=args.settle, state_file=args.state_file, once=args.once)
    except SyncConfigError as e:
        raise UsageError(str(e))
    syncer.run()
    if out.as_json:  # on a failure the error is the one document instead
        out.document(syncer.summary(), lambda: None)
    return OK


COMMANDS = {"runs": cmd_runs, "ls": cmd_ls, "show": cmd_show, "latest": cmd_latest, "upload": cmd_upload,
            "download": cmd_download, "plan": cmd_plan, "pin": cmd_pin, "unpin": cmd_pin, "policy": cmd_policy,
            "delete": cmd_delete, "token": cmd_token, "sync": cmd_sync}


# ---------------------------------------------------------------------------------------- main


def make_client(args):
    url = getattr(args, "url", None) or os.environ.get("CKPT_URL")
    if not url:
        raise UsageError("no service URL: pass --url or set CKPT_URL (e.g. https://<app>.azurewebsites.net)")
    token = getattr(args, "token", None) or os.environ.get("CKPT_TOKEN") or None
    admin_key = getattr(args, "admin_key", None) or os.environ.get("CKPT_ADMIN_KEY") or None
    retries = getattr(args, "retries", 6)
    block_kib = getattr(args, "block_kib", 8192)
    workers = getattr(args, "workers", 8)
    if retries < 1 or block_kib < 1 or workers < 1:
        raise UsageError("--retries, --block-kib and --workers must be >= 1")
    progress = False if getattr(args, "no_progress", False) else None
    try:
        return CheckpointClient(url, token=token, admin_key=admin_key, block_size=block_kib * 1024,
                                max_workers=workers, retry=RetryPolicy(attempts=retries), progress=progress)
    except ValueError as e:
        raise UsageError(str(e))


def report(error, out):
    """The error on stderr (and as the JSON document with --json); its exit code."""
    if isinstance(error, CheckpointError):
        code = exit_code(error)
        text = "%s: %s" % (error.code, error.message)
        if error.status is not None:
            text += " (HTTP %d)" % error.status
        doc = {"code": error.code, "message": error.message, "status": error.status}
        if error.target:
            doc["target"] = error.target
    elif isinstance(error, UsageError):
        code, text, doc = USAGE, str(error), {"code": "Usage", "message": str(error)}
    elif isinstance(error, OSError):
        what = "%s: %s" % (error.strerror or type(error).__name__, error.filename) if error.filename else str(error)
        code, text, doc = REFUSED, "local file error: " + what, {"code": "LocalFileError", "message": what}
    else:
        code = REFUSED
        text = "internal error: %s: %s (set CKPT_DEBUG=1 for the traceback)" % (type(error).__name__, error)
        doc = {"code": "InternalError", "message": "%s: %s" % (type(error).__name__, error)}
    sys.stderr.write("ckptvault: %s\n" % text)
    sys.stderr.flush()
    if out is not None and out.as_json:
        sys.stdout.write(json.dumps({"error": doc}, sort_keys=True) + "\n")
        sys.stdout.flush()
    return code


def run(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    out = Output(getattr(args, "json", False))
    try:
        client = make_client(args)
    except UsageError as e:
        return report(e, out)
    try:
        code = COMMANDS[args.command](client, args, out)
        code = OK if code is None else code
    except (KeyboardInterrupt, BrokenPipeError):
        raise  # main() leaves at once: closing would wait for transfers still running
    except (CheckpointError, UsageError, OSError) as e:
        code = report(e, out)
    except Exception as e:  # a bug: one line for the user, the traceback only when asked for
        if os.environ.get("CKPT_DEBUG"):
            raise
        code = report(e, out)
    client.close()
    return code


def main(argv=None):
    try:
        return run(argv)
    except KeyboardInterrupt:
        _leave("ckptvault: interrupted\n", INTERRUPTED)
    except BrokenPipeError:
        # A reader such as `head` went away: nothing left to say to it.
        _leave("", OK)


def _leave(message, code):
    try:
        sys.stderr.write(message)
        sys.stderr.flush()
    finally:
        # Upload threads may still be blocked on the network: exit without waiting for them.
        os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
