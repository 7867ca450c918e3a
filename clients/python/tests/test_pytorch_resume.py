"""The example PyTorch trainer, SIGKILLed mid-run and restarted, ends bit-identical to an
uninterrupted run. Needs Debian's python3-torch, seen by /usr/bin/python3 only."""

import hashlib
import os
import signal
import subprocess
import tempfile
import time
import unittest

from support import client, new_run_id, require_stack

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
TRAINER = os.path.join(REPO, "examples", "pytorch", "train.py")
TORCH_PYTHON = os.environ.get("CKPT_TORCH_PYTHON", "/usr/bin/python3")
STEPS = 30
EVERY = 5


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
        self.client = client()
        self.addCleanup(self.client.close)

    def trainer(self, run, name, *extra):
        cmd = [TORCH_PYTHON, TRAINER, "--base-url", self.client.api_url[: -len("/api")], "--run-id", run,
               "--steps", str(STEPS), "--every", str(EVERY), "--workdir", os.path.join(self.tmp, name),
               "--out", os.path.join(self.tmp, name + ".bin"), *extra]
        log = open(os.path.join(self.tmp, name + ".log"), "w+")
        self.addCleanup(log.close)
        # Its own session: the kill takes the launcher and both rank processes, like a lost node.
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.addCleanup(self._reap, proc)
        return proc, log

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

        # B runs slowly so it can be killed mid-run; A runs meanwhile, uninterrupted.
        proc_b, log_b = self.trainer(run_b, "b1", "--step-delay", "0.2")
        proc_a, log_a = self.trainer(run_a, "a")

        deadline = time.monotonic() + 300
        latest = None
        while time.monotonic() < deadline and proc_b.poll() is None:
            latest = self.client.latest(run_b)
            if latest is not None and latest["step"] >= 2 * EVERY:
                break
            time.sleep(0.2)
        self.assertIsNone(proc_b.poll(), "B ended before it could be killed:\n" + self.output(log_b))
        self.assertIsNotNone(latest, "B committed nothing in time:\n" + self.output(log_b))
        os.killpg(proc_b.pid, signal.SIGKILL)
        proc_b.wait()
        killed_at = self.client.latest(run_b)["step"]
        self.assertLess(killed_at, STEPS, "B was killed before its last checkpoint")

        proc_b2, log_b2 = self.trainer(run_b, "b2")
        final_b, text_b = self.finish(proc_b2, log_b2, "b2")
        final_a, _ = self.finish(proc_a, log_a, "a")

        self.assertIn("[rank 0] resumed from step %d" % killed_at, text_b)
        self.assertIn("[rank 1] resumed from step %d" % killed_at, text_b)
        self.assertTrue(final_a, "A wrote its parameters")
        self.assertEqual(hashlib.sha256(final_a).hexdigest(), hashlib.sha256(final_b).hexdigest(),
                         "resumed run B ends with the same parameter bytes as run A")
        self.assertEqual(final_a, final_b)

        latest = self.client.latest(run_b)
        self.assertEqual(STEPS, latest["step"])
        self.assertEqual(["rank-00000/shard.pt", "rank-00001/shard.pt"], sorted(f["path"] for f in latest["files"]))
        self.assertTrue(all(f.get("sha256") for f in latest["files"]), "the manifest carries sha256 values")


if __name__ == "__main__":
    unittest.main()
