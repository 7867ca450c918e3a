"""The ckptvault command line (python -m ckptvault) against the real local stack."""

import json
import os
import pty
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import unittest

from support import (ADMIN_KEY, BASE_URL, CLIENT_DIR, FaultProxy, KiB, cli_command, cli_env, closed_port,
                     new_run_id, payload, read_tree, require_stack, run_cli, token_for, wait_for, write_files)


def setUpModule():
    require_stack()


def is_put_block(ex):
    return ex.kind == "blob" and ex.method == "PUT" and "comp=block&" in ex.query + "&"


class CliTest(unittest.TestCase):
    """Commands run as an operator's shell: CKPT_ADMIN_KEY, and CKPT_TOKEN with a write token of the
    run the test made with new_run (docs/cli.md, the launcher flow)."""

    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="ckptvault-cli-")
        self.addCleanup(tmp.cleanup)
        self.tmp = tmp.name
        self.token = None

    def new_run(self, name):
        run = new_run_id(name)
        self.token = token_for(run)
        return run

    def env(self, url=None):
        return cli_env(url, CKPT_TOKEN=self.token, CKPT_ADMIN_KEY=ADMIN_KEY)

    def folder(self, name, files=None):
        path = os.path.join(self.tmp, name)
        os.makedirs(path, exist_ok=True)
        return write_files(path, files or {})

    def proxy(self):
        proxy = FaultProxy(BASE_URL)
        self.addCleanup(proxy.close)
        return proxy

    def ok(self, *args, url=None):
        result = run_cli(*args, env=self.env(url))
        self.assertEqual(0, result.returncode, "ckptvault %s failed:\n%s%s" % (
            " ".join(map(str, args)), result.stdout, result.stderr))
        self.assertNotIn("Traceback", result.stderr)
        return result

    def fails(self, code, *args, url=None):
        result = run_cli(*args, env=self.env(url))
        self.assertEqual(code, result.returncode, "ckptvault %s: expected exit %d:\n%s%s" % (
            " ".join(map(str, args)), code, result.stdout, result.stderr))
        self.assertNotIn("Traceback", result.stderr)
        return result

    def json_of(self, *args, **kwargs):
        return json.loads(self.ok("--json", *args, **kwargs).stdout)

    def upload(self, run, step, files, *extra):
        return self.ok("upload", run, step, self.folder("src-%s-%s" % (run, step), files), "--block-kib", 64, *extra)


class FirstCheckpointTest(CliTest):
    def test_upload_ls_show_latest_download_and_plan_round_trip_a_first_checkpoint(self):
        run = self.new_run("cli-first")
        files = {"model.bin": payload(3 * 64 * KiB + 5, 1), "__0_0.distcp": payload(100, 2),
                 "epoch=0-step=100.ckpt": payload(10, 3), ".metadata": b"{}"}

        up = self.upload(run, 100, files, "--metric", "loss=0.25", "--metadata", "framework=test")
        self.assertRegex(up.stdout, r"state\s+COMMITTED")
        self.assertRegex(up.stdout, r"metrics\s+loss=0.25")
        # Local names are shown, whatever the service stores them as.
        for name in files:
            self.assertIn(name, up.stdout)

        ls = self.ok("ls", run)
        header, row = ls.stdout.splitlines()[:2]
        self.assertEqual(["STEP", "STATE", "TIER", "BYTES"], header.split()[:4])
        self.assertEqual(["100", "COMMITTED", "hot"], row.split()[:3])

        show = self.ok("show", run, 100)
        self.assertIn("model.bin", show.stdout)
        self.assertRegex(show.stdout, r"step\s+100")
        latest = self.ok("latest", run)
        self.assertRegex(latest.stdout, r"step\s+100")
        self.assertNotIn("sig=", latest.stdout, "read URLs (SAS) are never printed")

        dest = os.path.join(self.tmp, "restore")
        down = self.ok("download", run, "latest", dest, "--block-kib", 64)
        self.assertIn("downloaded %s step 100: 4 files" % run, down.stdout)
        self.assertIn("sha256 verified", down.stdout)
        self.assertEqual(files, read_tree(dest), "every file back under its own name, byte for byte")

        plan = self.ok("plan", run)
        self.assertEqual(["STEP", "STATE", "DECISION", "REASONS"], plan.stdout.splitlines()[0].split())
        self.assertRegex(plan.stdout, r"100\s+COMMITTED\s+keep\s+latest")

    def test_json_output_is_one_document_per_command_without_urls(self):
        run = self.new_run("cli-json")
        committed = self.json_of("upload", run, 7, self.folder("src", {"a.bin": b"abc", "__0.distcp": b"d"}),
                                 "--metric", "loss=1")
        self.assertEqual(("COMMITTED", 7, {"loss": 1.0}), (committed["state"], committed["step"], committed["metrics"]))
        self.assertEqual(["-__0.distcp", "a.bin"], sorted(f["path"] for f in committed["files"]),
                         "--json shows the names as stored; a name the service refuses is escaped")

        listing = self.json_of("ls", run, "--state", "committed", "--limit", "5")
        self.assertEqual([7], [c["step"] for c in listing["checkpoints"]])
        self.assertIsNone(listing["next"])
        latest = self.json_of("latest", run)
        self.assertEqual(["-__0.distcp", "a.bin"], sorted(f["path"] for f in latest["files"]))
        self.assertEqual([], [f for f in latest["files"] if "url" in f])
        self.assertEqual(7, self.json_of("show", run, 7)["step"])
        down = self.json_of("download", run, 7, os.path.join(self.tmp, "d"))
        self.assertEqual((7, 4, "sha256"), (down["step"], down["bytes"], down["verified"]))
        self.assertEqual(["__0.distcp", "a.bin"], sorted(f["path"] for f in down["files"]))
        plan = self.json_of("plan", run)
        self.assertEqual([7], [k["step"] for k in plan["keep"]])
        runs = self.json_of("runs")
        self.assertIn(run, [r["runId"] for r in runs["runs"]])
        mine = [r for r in runs["runs"] if r["runId"] == run][0]
        self.assertEqual(7, mine["latestCommittedStep"])
        self.assertEqual(7, self.json_of("pin", run, 7)["step"])
        self.assertIs(False, self.json_of("unpin", run, 7)["pinned"])

    def test_runs_table_lists_the_run_with_its_latest_step(self):
        run = self.new_run("cli-runs")
        self.upload(run, 3, {"a": b"1"})
        lines = self.ok("runs").stdout.splitlines()
        self.assertEqual(["RUN", "LATEST", "CHECKPOINTS", "BYTES", "CREATED"], lines[0].split())
        row = [line for line in lines if line.startswith(run + " ")]
        self.assertEqual(1, len(row), lines)
        self.assertEqual([run, "3", "COMMITTED=1"], row[0].split()[:3])


class RetentionCommandsTest(CliTest):
    def test_policy_set_replaces_the_set_fields_and_get_shows_the_effective_policy(self):
        run = self.new_run("cli-policy")
        self.upload(run, 1, {"a": b"1"})
        answer = self.json_of("policy", "set", run, "--keep-last", 5, "--keep-best", "val:loss:min:2",
                              "--action", "cool")
        self.assertEqual({"keepLast": 5, "keepBest": {"metric": "val:loss", "mode": "min", "count": 2},
                          "action": "cool"}, answer["retentionSet"])
        got = self.ok("policy", "get", run).stdout
        self.assertRegex(got, r"keepLast\s+5")
        self.assertRegex(got, r"keepBest\s+val:loss:min:2")
        self.assertRegex(got, r"action\s+cool")

        # PUT replaces: what the second call does not give falls back to the defaults.
        again = self.json_of("policy", "set", run, "--keep-every", 10)
        self.assertEqual({"keepEvery": 10}, again["retentionSet"])
        self.assertEqual("delete", again["retention"]["action"])

    def test_a_policy_the_service_refuses_exits_1_with_its_code_and_field(self):
        run = self.new_run("cli-badpolicy")
        self.upload(run, 1, {"a": b"1"})
        result = self.fails(1, "policy", "set", run, "--keep-last", 0)
        self.assertIn("InvalidPolicy", result.stderr)
        self.assertIn("keepLast", result.stderr)
        self.assertIn("(HTTP 400)", result.stderr)

    def test_pin_and_the_only_committed_checkpoint_need_force_to_delete(self):
        run = self.new_run("cli-delete")
        self.upload(run, 1, {"a": b"1"})
        self.upload(run, 2, {"a": b"2"})
        self.assertIn("pinned %s step 1" % run, self.ok("pin", run, 1).stdout)
        refused = self.fails(1, "delete", run, 1)
        self.assertIn("CheckpointPinned", refused.stderr)
        self.assertIn("--force", refused.stderr, "the remedy is named as the CLI spells it")
        self.ok("unpin", run, 1)
        self.assertIn("DELETED", self.ok("delete", run, 1).stdout)

        only = self.fails(1, "delete", run, 2)
        self.assertIn("OnlyCommittedCheckpoint", only.stderr)
        self.assertEqual("DELETED", self.json_of("delete", run, 2, "--force")["state"])
        self.fails(3, "latest", run)
        states = {c["step"]: c["state"] for c in self.json_of("ls", run)["checkpoints"]}
        self.assertEqual({1: "DELETED", 2: "DELETED"}, states)


class ExitCodeTest(CliTest):
    def test_no_committed_checkpoint_and_unknown_step_exit_3(self):
        run = self.new_run("cli-none")
        result = self.fails(3, "latest", run)
        self.assertIn("ckptvault: NoCommittedCheckpoint: run %s has no committed checkpoint" % run, result.stderr)
        self.assertEqual("", result.stdout)
        self.upload(run, 1, {"a": b"1"})
        self.assertIn("NotFound", self.fails(3, "show", run, 99).stderr)
        self.fails(3, "download", run, 99, os.path.join(self.tmp, "d"))

    def test_bad_arguments_missing_url_and_bad_url_exit_2(self):
        self.assertIn("required", self.fails(2, "ls").stderr)
        self.assertIn("not a number", self.fails(2, "upload", "r", 1, self.tmp, "--metric", "loss=abc").stderr)
        self.assertIn("whole number", self.fails(2, "show", "r", "ten").stderr)
        no_url = subprocess.run(cli_command("ls", "r"), env={**self.env(), "CKPT_URL": ""}, capture_output=True,
                                text=True, timeout=60)
        self.assertEqual(2, no_url.returncode)
        self.assertIn("CKPT_URL", no_url.stderr)
        self.assertIn("base URL must be http(s)", self.fails(2, "ls", "r", url="notaurl").stderr)
        self.assertIn("is not a directory", self.fails(2, "upload", "r", 1, os.path.join(self.tmp, "nope")).stderr)

    def test_connection_refused_exits_5_after_the_retries(self):
        result = self.fails(5, "ls", "r", "--retries", 2, url="http://127.0.0.1:%d" % closed_port())
        self.assertIn("ConnectionFailed", result.stderr)
        self.assertIn("refused", result.stderr.lower())

    def test_a_refused_write_exits_1_with_the_services_code(self):
        run = self.new_run("cli-refused")
        self.upload(run, 1, {"a": b"1"})
        result = self.fails(1, "upload", run, 1, self.folder("other", {"a": b"2"}))
        self.assertIn("CheckpointCommitted", result.stderr)
        self.assertIn("(HTTP 409)", result.stderr)

    def test_unauthenticated_and_forbidden_exit_4_and_unavailable_exits_5(self):
        proxy = self.proxy()
        cases = [(401, "Unauthenticated", 4), (403, "Forbidden", 4), (503, "StorageUnavailable", 5)]
        for status, code, exit_code in cases:
            with self.subTest(status=status):
                proxy.before[:] = [lambda ex, s=status, c=code: (
                    s, {"content-type": "application/json"},
                    json.dumps({"error": {"code": c, "message": "injected %s" % c}}).encode())]
                result = self.fails(exit_code, "--json", "ls", "r", "--retries", 2, url=proxy.base_url)
                self.assertIn("ckptvault: %s: injected %s (HTTP %d)" % (code, code, status), result.stderr)
                self.assertEqual({"error": {"code": code, "message": "injected " + code, "status": status}},
                                 json.loads(result.stdout), "--json: the error is the one document on stdout")

    def test_a_corrupted_download_exits_1_with_sha256_mismatch(self):
        run = self.new_run("cli-corrupt")
        self.upload(run, 1, {"a.bin": payload(1000, 4)})
        proxy = self.proxy()
        proxy.after.append(lambda ex, status, headers, body: (
            status, headers, (bytes([body[0] ^ 1]) + body[1:]) if ex.kind == "blob" and body else body))
        dest = os.path.join(self.tmp, "d")
        result = self.fails(1, "download", run, 1, dest, url=proxy.base_url)
        self.assertIn("Sha256Mismatch", result.stderr)
        self.assertEqual({}, read_tree(dest) if os.path.isdir(dest) else {})

    def test_ctrl_c_during_an_upload_exits_130_without_a_traceback(self):
        run = self.new_run("cli-sigint")
        src = self.folder("src", {"big.bin": payload(4 * 64 * KiB, 5)})
        proxy = self.proxy()
        release = threading.Event()
        self.addCleanup(release.set)
        proxy.before.append(lambda ex: (release.wait(30), None)[1] if is_put_block(ex) else None)
        proc = subprocess.Popen(cli_command("upload", run, 1, src, "--block-kib", 64), env=self.env(proxy.base_url),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        wait_for(lambda: proxy.exchanges(is_put_block), what="the first block upload")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        self.assertEqual(130, proc.returncode, err)
        self.assertEqual("ckptvault: interrupted\n", err)
        self.assertNotIn("Traceback", err)


class TerminalTest(CliTest):
    def test_upload_and_download_on_a_terminal_show_a_progress_bar_with_rate_and_time_left(self):
        run = self.new_run("cli-tty")
        src = self.folder("src", {"big.bin": payload(24 * 64 * KiB, 6)})
        for args in (("upload", run, 1, src), ("download", run, 1, os.path.join(self.tmp, "d"))):
            with self.subTest(command=args[0]):
                master, slave = pty.openpty()
                proc = subprocess.Popen(cli_command(*args, "--block-kib", 64), env=self.env(), stdout=subprocess.PIPE,
                                        stderr=slave, text=False)
                os.close(slave)
                seen = b""
                while True:
                    ready, _, _ = select.select([master], [], [], 60)
                    if not ready:
                        break
                    try:
                        chunk = os.read(master, 4096)
                    except OSError:  # the child closed the terminal
                        break
                    if not chunk:
                        break
                    seen += chunk
                os.close(master)
                proc.communicate(timeout=60)
                self.assertEqual(0, proc.returncode, seen)
                text = seen.decode("utf-8", "replace")
                self.assertIn("%s %s step 1 [" % (args[0], run), text)
                self.assertRegex(text, r"\[#+-*\]\s+[\d.]+/1\.5 MiB\s+\d+%\s+[\d.]+ MiB/s\s+(\d+:\d\d left|done in)")
                self.assertIn("/1.5 MiB 100%", text)

    def test_no_progress_bar_when_stderr_is_not_a_terminal(self):
        run = self.new_run("cli-notty")
        result = self.ok("upload", run, 1, self.folder("src", {"big.bin": payload(2 * 64 * KiB, 7)}), "--block-kib", 64)
        self.assertEqual("", result.stderr)


class PackagingTest(unittest.TestCase):
    def test_installing_the_package_provides_the_ckptvault_console_script(self):
        # pip builds the package offline with the interpreter's own setuptools and wheel.
        candidates = []
        for python in (os.environ.get("CKPT_PIP_PYTHON"), "python3", "/usr/bin/python3"):
            if python and shutil.which(python) and subprocess.run(
                    [python, "-c", "import setuptools, wheel, pip"], capture_output=True).returncode == 0:
                candidates.append(python)
        if not candidates:
            self.skipTest("no interpreter here has pip, setuptools and wheel to build the package offline")
        with tempfile.TemporaryDirectory(prefix="ckptvault-pip-") as tmp:
            src = os.path.join(tmp, "src")
            # A copy: building writes build/ and *.egg-info next to the sources.
            shutil.copytree(CLIENT_DIR, src,
                            ignore=shutil.ignore_patterns("tests", "__pycache__", "build", "*.egg-info"))
            target = os.path.join(tmp, "target")
            built = subprocess.run([candidates[0], "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                                    "--no-index", "--target", target, src], capture_output=True, text=True, timeout=300)
            self.assertEqual(0, built.returncode, built.stderr)
            script = os.path.join(target, "bin", "ckptvault")
            self.assertTrue(os.access(script, os.X_OK), "pip installed no ckptvault script")
            version = subprocess.run([script, "--version"], env={**os.environ, "PYTHONPATH": target},
                                     capture_output=True, text=True, timeout=60)
            self.assertEqual("ckptvault 0.1.0", version.stdout.strip(), version.stderr)


if __name__ == "__main__":
    unittest.main()
