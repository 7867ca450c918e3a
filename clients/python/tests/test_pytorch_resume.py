"""The example PyTorch trainer, SIGKILLed mid-run and restarted, ends bit-identical to an
uninterrupted run. Needs Debian's python3-torch, seen by /usr/bin/python3 only.

Shards are padded to 1 MiB and sent as 256 KiB blocks, so the first kill lands inside a block
upload; the second lands right after the service accepted a commit whose answer the trainer never
gets. Both kills are chosen on the wire by the FaultProxy, not by timing.
"""

import hashlib
import os
import signal
import subprocess
import tempfile
import threading
import unittest

from support import (BASE_URL, FaultProxy, assert_commits_name_their_writes, client, exchange_step, is_commit,
                     new_run_id, rank_env, require_stack, token_for)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
TRAINER = os.path.join(REPO, "examples", "pytorch", "train.py")
TORCH_PYTHON = os.environ.get("CKPT_TORCH_PYTHON", "/usr/bin/python3")
STEPS = 30
EVERY = 5
SHARD = ["--shard-mib", "1", "--block-kib", "256"]  # a shard is 4+ blocks


def torch_missing():
    """None when TORCH_PYTHON can import torch, else why not."""
    try:
        probe = subprocess.run([TORCH_PYTHON, "-c", "import torch"], capture_output=True, text=True, timeout=120)
    except OSError as e:
        return "%s cannot run: %s" % (TORCH_PYTHON, e)
    if probe.returncode != 0:
        return ("%s cannot import torch (install Debian's python3-torch: apt-get install -y python3-torch): %s"
                % (TORCH_PYTHON, probe.stderr.strip().splitlines()[-1:]))
    return None


def setUpModule():
    require_stack()
    missing = torch_missing()
    if missing:
        raise unittest.SkipTest("PyTorch kill-and-resume skipped: " + missing)


class KillAndResumeTest(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="ckptvault-torch-")
        self.addCleanup(tmp.cleanup)
        self.tmp = tmp.name
        self.exchanges = []  # what the trainers sent through the killing proxies

    def trainer(self, run, name, base_url=BASE_URL):
        cmd = [TORCH_PYTHON, TRAINER, "--base-url", base_url, "--run-id", run, "--steps", str(STEPS),
               "--every", str(EVERY), "--workdir", os.path.join(self.tmp, name),
               "--out", os.path.join(self.tmp, name + ".bin"), *SHARD]
        log = open(os.path.join(self.tmp, name + ".log"), "w+")
        self.addCleanup(log.close)
        # Its own session: the kill takes the launcher and both rank processes, like a lost node. Its
        # environment is what a launcher gives: the run's write token in CKPT_TOKEN, no admin key.
        proc = subprocess.Popen(cmd, env=rank_env(run), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.addCleanup(self._reap, proc)
        return proc, log

    def killed_on_the_wire(self, run, name, predicate, phase):
        """Runs the trainer through a proxy that SIGKILLs its whole process group at the first
        exchange matching ``predicate``: before forwarding it, or after the service answered."""
        proxy = FaultProxy(BASE_URL)
        self.addCleanup(proxy.close)
        proc, log = self.trainer(run, name, proxy.base_url)
        fired = threading.Event()

        def kill(ex):
            if not fired.is_set() and predicate(ex):
                fired.set()
                os.killpg(proc.pid, signal.SIGKILL)
                return True
            return False

        if phase == "before":
            proxy.before.append(lambda ex: (503, {}, b"") if kill(ex) else None)
        else:
            proxy.after.append(lambda ex, status, headers, body: (kill(ex), (status, headers, body))[1])
        try:
            proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            self.fail("trainer %s was not killed:\n%s" % (name, self.output(log)))
        self.assertTrue(fired.is_set(), "trainer %s ended before the kill point:\n%s" % (name, self.output(log)))
        self.assertEqual(-signal.SIGKILL, proc.returncode)
        self.exchanges.extend(proxy.exchanges())
        return log

    @staticmethod
    def _reap(proc):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def output(self, log):
        log.flush()
        log.seek(0)
        return log.read()

    def finish(self, proc, log, name):
        try:
            code = proc.wait(timeout=600)
        except subprocess.TimeoutExpired:
            self.fail("trainer %s did not finish:\n%s" % (name, self.output(log)))
        text = self.output(log)
        self.assertEqual(0, code, "trainer %s failed:\n%s" % (name, text))
        with open(os.path.join(self.tmp, name + ".bin"), "rb") as fh:
            return fh.read(), text

    def test_sigkilled_run_resumes_from_latest_committed_and_ends_bit_identical(self):
        run_a = new_run_id("torch-a")
        run_b = new_run_id("torch-b")
        proc_a, log_a = self.trainer(run_a, "a")  # uninterrupted, meanwhile
        reader = client(token=token_for(run_b, "read"))
        self.addCleanup(reader.close)

        blocks = []

        def second_block_of_step_15(ex):
            if ex.kind == "blob" and "comp=block&" in ex.query + "&" and exchange_step(ex) == 15:
                blocks.append(ex)
            return len(blocks) == 2

        self.killed_on_the_wire(run_b, "b1", second_block_of_step_15, "before")
        self.assertEqual(10, reader.latest(run_b)["step"], "step 15 was not committed")

        log_b2 = self.killed_on_the_wire(run_b, "b2", lambda ex: is_commit(ex) and exchange_step(ex) == 20, "after")
        self.assertIn("[rank 0] resumed from step 10", self.output(log_b2))
        self.assertEqual(20, reader.latest(run_b)["step"], "the commit the trainer never heard of counts")

        proc_b3, log_b3 = self.trainer(run_b, "b3")
        final_b, text_b = self.finish(proc_b3, log_b3, "b3")
        final_a, _ = self.finish(proc_a, log_a, "a")

        self.assertIn("[rank 0] resumed from step 20", text_b)
        self.assertIn("[rank 1] resumed from step 20", text_b)
        self.assertTrue(final_a, "A wrote its parameters")
        self.assertEqual(hashlib.sha256(final_a).hexdigest(), hashlib.sha256(final_b).hexdigest(),
                         "resumed run B ends with the same parameter bytes as run A")
        self.assertEqual(final_a, final_b)

        latest = reader.latest(run_b)
        self.assertEqual(STEPS, latest["step"])
        self.assertEqual(["rank-00000/shard.pt", "rank-00001/shard.pt"], sorted(f["path"] for f in latest["files"]))
        self.assertTrue(all(f["size"] >= 2 * 256 * 1024 for f in latest["files"]), "every shard is 2+ blocks")
        self.assertTrue(all(f.get("sha256") for f in latest["files"]), "the manifest carries sha256 values")
        # The ranks' commits (torch_dist.gather_and_commit) name every file's last write by its ETag.
        assert_commits_name_their_writes(self, self.exchanges)


class LauncherContractTest(unittest.TestCase):
    def test_without_a_run_token_the_trainer_stops_before_starting_its_ranks(self):
        with tempfile.TemporaryDirectory(prefix="ckptvault-torch-") as tmp:
            env = {k: v for k, v in os.environ.items() if not k.startswith("CKPT_")}
            result = subprocess.run([TORCH_PYTHON, TRAINER, "--base-url", BASE_URL, "--run-id",
                                     new_run_id("torch-none"), "--workdir", tmp],
                                    env=env, capture_output=True, text=True, timeout=300)
        self.assertEqual(2, result.returncode, result.stderr)
        self.assertIn("no run token: set CKPT_TOKEN", result.stderr)
        self.assertNotIn("[rank", result.stdout, "no rank was started")


if __name__ == "__main__":
    unittest.main()
