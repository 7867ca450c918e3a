"""`ckptvault sync` behind the real PyTorch example trainer: train.py --local-dir writes each
checkpoint in the DCP layout (rank files, then .metadata last), sync uploads them while it trains
and is SIGKILLed at seeded points; a final sync run completes the work. Needs Debian's
python3-torch, seen by /usr/bin/python3 only (skipped with the reason otherwise)."""

import os
import subprocess
import tempfile
import unittest

from support import (KillingSync, assert_synced, kill_seed, new_run_id, read_log, report_kills, require_stack,
                     wait_for, write_files)
from test_pytorch_resume import TORCH_PYTHON, TRAINER, torch_missing

STEPS = 30
EVERY = 5


def setUpModule():
    require_stack()
    missing = torch_missing()
    if missing:
        raise unittest.SkipTest("PyTorch sync test skipped: " + missing)


class PyTorchSyncTest(unittest.TestCase):
    def test_sync_killed_while_the_trainer_writes_commits_every_finished_checkpoint_once(self):
        seed = kill_seed("pytorch sync kill -9 test")
        tmp = tempfile.TemporaryDirectory(prefix="ckptvault-torch-sync-")
        self.addCleanup(tmp.cleanup)
        watch = os.path.join(tmp.name, "ckpt")
        run = new_run_id("torch-sync")
        # A rank file whose .metadata never comes: it must never be committed.
        write_files(os.path.join(watch, "step-999"), {"__0_0.distcp": b"half of a checkpoint"})

        log = open(os.path.join(tmp.name, "log"), "w+")
        self.addCleanup(log.close)
        trainer = subprocess.Popen([TORCH_PYTHON, TRAINER, "--local-dir", watch, "--steps", str(STEPS),
                                    "--every", str(EVERY), "--shard-mib", "1", "--step-delay", "0.1"],
                                   stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: trainer.poll() is None and trainer.kill())

        killer = KillingSync(self, run, watch, ["--format", "dcp", "--settle", "0.3", "--interval", "0.1",
                                                "--block-kib", "256", "--retries", "3"], seed)
        specs = [("block", killer.rng.randint(2, 8), "before"), ("commit", 1, "after"), killer.random_spec()]
        killer.rng.shuffle(specs)
        for spec in specs:
            proc = killer.start(spec, log=log)
            wait_for(lambda: proc.poll() is not None or trainer.poll() is not None, timeout=120,
                     what="the kill or the trainer's end")
            if proc.poll() is None:
                break  # the trainer is done; the final run below finishes the work
        self.assertEqual(0, trainer.wait(300), read_log(log))
        if proc.poll() is None:
            proc.kill()
            proc.wait()

        final = killer.start(None, once=True, log=log)
        self.assertEqual(0, final.wait(120), read_log(log))
        report_kills("pytorch sync kill -9 test", killer)
        self.assertTrue(killer.kills, "sync was never killed:\n" + read_log(log))
        finished = {s: os.path.join(watch, "step-%d" % s) for s in range(EVERY, STEPS + 1, EVERY)}
        assert_synced(self, run, finished, [999], killer.proxy.exchanges())


if __name__ == "__main__":
    unittest.main()
