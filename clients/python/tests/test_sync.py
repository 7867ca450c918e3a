"""`ckptvault sync` with fake framework directories (no torch): presets, markers, restarts, kill -9,
--keep-local, files changing during an upload, refusals. The sync runs as a real process against
the real local stack; faults and kills come from the FaultProxy in front of it."""

import json
import os
import subprocess
import tempfile
import threading
import time
import unittest

from support import (BASE_URL, FaultProxy, KiB, KillingSync, admin_client, assert_synced, checkpoint_states,
                     cli_command, cli_env, client, is_uploads, kill_seed, new_run_id, payload, rank_env, read_log,
                     read_tree, report_kills, require_stack, run_cli, token_for, wait_for, write_files)

FAST = ["--settle", "0.2", "--interval", "0.1", "--block-kib", "64", "--retries", "3"]


def setUpModule():
    require_stack()


def write_dcp(watch, step, seed, size=150 * KiB, marker=True, name=None):
    """A PyTorch DCP-style checkpoint: one file per rank, then .metadata last."""
    folder = os.path.join(watch, name or "step-%d" % step)
    write_files(folder, {"__0_0.distcp": payload(size, seed), "__1_0.distcp": payload(size, seed + 1)})
    if marker:
        write_files(folder, {".metadata": json.dumps({"step": step}).encode()})
    return folder


class SyncTest(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="ckptvault-sync-")
        self.addCleanup(tmp.cleanup)
        self.tmp = tmp.name
        self.watch = os.path.join(self.tmp, "ckpt")
        os.makedirs(self.watch)

    def sync(self, run, *args, url=None, code=0, token=None):
        """A sync of ``run`` given what a launcher gives it: the run's write token (or ``token``)."""
        result = run_cli("sync", "--run", run, "--watch", self.watch, *FAST, *args,
                         env=cli_env(url, CKPT_TOKEN=token or token_for(run)))
        self.assertEqual(code, result.returncode, "sync exited %d:\n%s%s" % (result.returncode, result.stdout,
                                                                             result.stderr))
        self.assertNotIn("Traceback", result.stderr)
        return result

    def proxy(self):
        proxy = FaultProxy(BASE_URL)
        self.addCleanup(proxy.close)
        return proxy

    def watching(self, run, proxy):
        """A watching (not --once) dcp sync through ``proxy``; its log lines on ``proc.stderr``."""
        proc = subprocess.Popen(cli_command("sync", "--run", run, "--watch", self.watch, "--format", "dcp", *FAST),
                                env=rank_env(run, proxy.base_url), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        return proc


class FinishedCheckpointTest(SyncTest):
    def test_once_commits_every_finished_checkpoint_and_leaves_unfinished_ones_alone(self):
        run = new_run_id("sync-once")
        done = {10: write_dcp(self.watch, 10, 1), 20: write_dcp(self.watch, 20, 3)}
        write_dcp(self.watch, 30, 5, marker=False)  # the marker never came: still being written
        write_files(os.path.join(self.watch, "notes"), {"x.txt": b"not a checkpoint"})
        proxy = self.proxy()
        result = self.sync(run, "--format", "dcp", "--once", "--json", url=proxy.base_url)
        summary = json.loads(result.stdout)
        self.assertEqual([10, 20], summary["committed"])
        assert_synced(self, run, done, [30], proxy.exchanges())

    def test_a_second_sync_uploads_nothing_even_without_its_state_file(self):
        run = new_run_id("sync-again")
        done = {1: write_dcp(self.watch, 1, 7), 2: write_dcp(self.watch, 2, 9)}
        self.sync(run, "--format", "dcp", "--once")
        for remove_state in (False, True):
            with self.subTest(state_file_removed=remove_state):
                if remove_state:
                    os.remove(os.path.join(self.watch, ".ckptvault-sync-%s.json" % run))
                proxy = self.proxy()
                summary = json.loads(self.sync(run, "--format", "dcp", "--once", "--json", url=proxy.base_url).stdout)
                self.assertEqual(([], [1, 2]), (summary["committed"], summary["alreadyCommitted"]))
                self.assertEqual([], proxy.exchanges(lambda ex: is_uploads(ex) or ex.kind == "blob"),
                                 "nothing uploaded again")
        assert_synced(self, run, done, [], None)

    def test_hf_lightning_and_custom_layouts_are_recognised_by_their_markers(self):
        hf, lightning, custom = (new_run_id("sync-" + n) for n in ("hf", "lightning", "custom"))
        cases = []

        hf_dir = os.path.join(self.tmp, "hf")
        done_hf = write_files(os.path.join(hf_dir, "checkpoint-500"), {
            "model.safetensors": payload(70 * KiB, 11), "rng_state.pth": b"rng", "trainer_state.json": b"{}"})
        write_files(os.path.join(hf_dir, "tmp-checkpoint-1000"),
                    {"model.safetensors": b"x", "trainer_state.json": b"{}"})
        write_files(os.path.join(hf_dir, "checkpoint-1500"), {"model.safetensors": b"no trainer_state yet"})
        cases.append((hf, hf_dir, ["--format", "hf"], {500: done_hf}, [1000, 1500]))

        pl_dir = os.path.join(self.tmp, "pl")
        write_files(pl_dir, {"epoch=0-step=100.ckpt": payload(80 * KiB, 12), "last.ckpt": b"no step in the name",
                             ".epoch=1-step=200.ckpt.tmp": b"being written"})
        cases.append((lightning, pl_dir, ["--format", "lightning"], {100: None}, [200]))

        named_dir = os.path.join(self.tmp, "pl-named")
        write_files(named_dir, {"model-42.ckpt": b"weights", "model-42.ckpt.part": b"being written"})
        cases.append((new_run_id("sync-plnamed"), named_dir,
                      ["--format", "lightning", "--pattern", r"model-(\d+)\.ckpt"], {42: None}, []))

        custom_dir = os.path.join(self.tmp, "custom")
        done_custom = write_files(os.path.join(custom_dir, "iter_0007"), {"w.bin": b"w", "DONE": b""})
        write_files(os.path.join(custom_dir, "iter_0008"), {"w.bin": b"w"})
        cases.append((custom, custom_dir, ["--pattern", r"iter_(?P<step>\d+)", "--marker", "DONE"],
                      {7: done_custom}, [8]))

        for run, watch, args, done, unfinished in cases:
            with self.subTest(layout=args[:2]):
                result = run_cli("sync", "--run", run, "--watch", watch, *FAST, *args, "--once", env=rank_env(run))
                self.assertEqual(0, result.returncode, result.stderr)
                if args[1] == "lightning":
                    # One file is the checkpoint; its name (with '=') comes back as it was.
                    step = list(done)[0]
                    self.assertEqual({step: "COMMITTED"}, checkpoint_states(run))
                    dest = os.path.join(self.tmp, "restore-%d" % step)
                    with client(token=token_for(run)) as c:
                        c.download_checkpoint(run, step, dest)
                    expected = {n: data for n, data in read_tree(watch).items() if n.endswith(".ckpt") and (
                        "step=%d" % step in n or "-%d." % step in n)}
                    self.assertEqual(expected, read_tree(dest))
                else:
                    assert_synced(self, run, done, unfinished, None)
                self.assertEqual(set(done), set(checkpoint_states(run)))


    def test_two_checkpoints_claiming_one_step_are_both_left_alone(self):
        run = new_run_id("sync-twice")
        write_files(self.watch, {"epoch=0-step=100.ckpt": b"one", "epoch=0-step=100-v1.ckpt": b"two",
                                 "epoch=1-step=200.ckpt": b"three"})
        result = self.sync(run, "--format", "lightning", "--once")
        self.assertIn("two checkpoints in %s have step 100; neither is uploaded" % self.watch, result.stderr)
        self.assertEqual({200: "COMMITTED"}, checkpoint_states(run))

    def test_a_step_deleted_on_the_service_is_not_uploaded_again(self):
        run = new_run_id("sync-deleted")
        write_dcp(self.watch, 1, 70, size=1000)
        write_dcp(self.watch, 2, 72, size=1000)
        self.sync(run, "--format", "dcp", "--once")
        with admin_client() as c:
            c.delete_checkpoint(run, 1)
        proxy = self.proxy()
        summary = json.loads(self.sync(run, "--format", "dcp", "--once", "--json", url=proxy.base_url).stdout)
        self.assertEqual([{"step": 1, "reason": "DELETED"}], summary["skipped"])
        self.assertEqual({1: "DELETED", 2: "COMMITTED"}, checkpoint_states(run))
        self.assertEqual([], proxy.exchanges(is_uploads))


class RestartAndChangeTest(SyncTest):
    def test_kill_9_at_seeded_points_commits_every_finished_checkpoint_exactly_once(self):
        seed = kill_seed("sync kill -9 test")
        run = new_run_id("sync-kill")
        steps = [10, 20, 30, 40, 50, 60, 70, 80]
        partial = write_dcp(self.watch, 999, 99, marker=False)  # never finished
        self.assertTrue(os.path.isdir(partial))
        finished = {}

        def trainer():
            # Writes like a framework does: the rank files, a pause, the marker last.
            for i, step in enumerate(steps):
                finished[step] = write_dcp(self.watch, step, 100 + 2 * i)
                time.sleep(0.3)

        writer = threading.Thread(target=trainer, daemon=True)
        writer.start()
        killer = KillingSync(self, run, self.watch, ["--format", "dcp", *FAST], seed)
        # Always one kill inside a block upload and one right after a commit the client never heard
        # back from; the rest anywhere. Order and positions come from the seed.
        specs = [("block", killer.rng.randint(2, 6), "before"), ("commit", 1, "after")]
        specs += [killer.random_spec() for _ in range(4)]
        killer.rng.shuffle(specs)
        log = open(os.path.join(self.tmp, "sync.log"), "w+")
        self.addCleanup(log.close)
        for spec in specs:
            proc = killer.start(spec, log=log)
            all_done = lambda: not writer.is_alive() and all(  # noqa: E731
                checkpoint_states(run).get(s) == "COMMITTED" for s in steps)
            wait_for(lambda: proc.poll() is not None or all_done(), timeout=90, what="the kill or the end of work")
            if proc.poll() is None:
                proc.kill()  # nothing left to interrupt: the spec's point never came
                proc.wait()
                break
            self.assertEqual(-9, proc.returncode, "sync ended by itself, not by the kill:\n" + read_log(log))
        writer.join(60)

        final = killer.start(None, once=True, log=log)
        final.wait(120)
        self.assertEqual(0, final.returncode, read_log(log))
        report_kills("sync kill -9 test", killer)
        self.assertGreaterEqual(len(killer.kills), 2, "the forced kill points were reached")
        assert_synced(self, run, finished, [999], killer.proxy.exchanges())

    def test_a_checkpoint_rewritten_during_its_upload_is_committed_only_with_its_final_content(self):
        run = new_run_id("sync-changed")
        folder = write_dcp(self.watch, 5, 21, size=4 * 64 * KiB)
        proxy = self.proxy()
        first_block = threading.Event()
        rewritten = threading.Event()
        self.addCleanup(rewritten.set)

        def hold_first_block(ex):
            if ex.kind == "blob" and "comp=block&" in ex.query + "&" and not first_block.is_set():
                first_block.set()
                rewritten.wait(30)
            return None

        proxy.before.append(hold_first_block)
        proc = self.watching(run, proxy)
        wait_for(first_block.is_set, what="the first block upload")
        # The trainer saves the same step again (same size, other bytes) while the upload runs.
        write_files(folder, {"__0_0.distcp": payload(4 * 64 * KiB, 22)})
        rewritten.set()
        wait_for(lambda: checkpoint_states(run).get(5) == "COMMITTED", timeout=60, what="step 5 committed")
        proc.kill()
        _, err = proc.communicate(timeout=30)
        self.assertIn("step 5: step-5 changed while it was uploaded; trying again once it settles", err)
        commits = proxy.exchanges(lambda ex: ex.kind == "api" and ex.path.endswith("/commit"))
        self.assertEqual(1, len(commits), "the changed attempt was never committed")
        assert_synced(self, run, {5: folder}, [], proxy.exchanges())


    def test_a_checkpoint_that_keeps_changing_is_given_up_after_three_attempts_with_exit_1(self):
        run = new_run_id("sync-unsettled")
        folder = write_dcp(self.watch, 3, 80, size=2 * 64 * KiB)
        proxy = self.proxy()
        touched = []

        def touch_during_upload(ex):
            # The trainer keeps writing into the checkpoint: every upload attempt sees it change.
            if ex.kind == "blob" and "comp=blocklist" in ex.query:
                touched.append(ex)
                os.utime(os.path.join(folder, "__0_0.distcp"), ns=(len(touched) * 10 ** 9, len(touched) * 10 ** 9))
            return None

        proxy.before.append(touch_during_upload)
        result = self.sync(run, "--format", "dcp", "--once", url=proxy.base_url, code=1)
        self.assertIn("CheckpointChanged: step 3 (step-3) not committed after 3 attempts", result.stderr)
        self.assertEqual([], proxy.exchanges(lambda ex: ex.path.endswith("/commit")), "no attempt was committed")
        self.assertNotEqual("COMMITTED", checkpoint_states(run).get(3))


class KeepLocalTest(SyncTest):
    def test_keep_local_keeps_the_newest_committed_copies_and_never_an_uncommitted_one(self):
        run = new_run_id("sync-keep")
        for step in (1, 2, 3, 4):
            write_dcp(self.watch, step, 30 + step, size=1000)
        write_dcp(self.watch, 0, 40, size=1000, marker=False)
        write_dcp(self.watch, 5, 41, size=1000, marker=False)
        summary = json.loads(self.sync(run, "--format", "dcp", "--once", "--keep-local", 2, "--json").stdout)
        self.assertEqual([1, 2], sorted(summary["removedLocal"]))
        self.assertEqual(["step-0", "step-3", "step-4", "step-5"],
                         sorted(n for n in os.listdir(self.watch) if n.startswith("step-")))
        self.assertEqual({1: "COMMITTED", 2: "COMMITTED", 3: "COMMITTED", 4: "COMMITTED"}, checkpoint_states(run))


class RefusalTest(SyncTest):
    def test_a_step_committed_with_other_content_stops_sync_with_exit_1(self):
        run = new_run_id("sync-conflict")
        with client(token=token_for(run)) as c:
            c.upload_checkpoint(run, 10, write_files(os.path.join(self.tmp, "other"), {"x.bin": b"other bytes"}))
        write_dcp(self.watch, 10, 50, size=1000)
        write_dcp(self.watch, 20, 52, size=1000)
        result = self.sync(run, "--format", "dcp", "--once", "--json", code=1)
        self.assertIn("ContentConflict: step 10 of run %s is COMMITTED with other content" % run, result.stderr)
        self.assertEqual("ContentConflict", json.loads(result.stdout)["error"]["code"], "one JSON document: the error")
        self.assertNotIn(20, checkpoint_states(run), "sync stopped at the refusal")

    def test_the_services_refusals_exit_non_zero_with_its_code(self):
        write_dcp(self.watch, 1, 60, size=1000)
        # A typo in --run: the launcher's token is valid, the run id is not.
        bad = self.sync("bad run id", "--format", "dcp", "--once", code=1, token=token_for(new_run_id("sync-typo")))
        self.assertIn("InvalidRunId", bad.stderr)
        # A read token may list the run but not write it: the service refuses the first uploads call.
        run = new_run_id("sync-403")
        proxy = self.proxy()
        forbidden = self.sync(run, "--format", "dcp", "--once", url=proxy.base_url, code=4,
                              token=token_for(run, "read"))
        self.assertRegex(forbidden.stderr, r"ckptvault: Forbidden: .* \(HTTP 403\)")
        self.assertEqual([403], [ex.status for ex in proxy.exchanges(is_uploads)])
        self.assertEqual([], proxy.exchanges(lambda ex: ex.kind == "blob"), "nothing reached storage")

    def test_storage_unavailable_exits_5_with_once_and_is_retried_later_when_watching(self):
        write_dcp(self.watch, 1, 90, size=1000)
        busy = json.dumps({"error": {"code": "StorageUnavailable", "message": "storage is busy"}}).encode()
        down = self.proxy()
        down.before.append(lambda ex: (503, {"content-type": "application/json"}, busy) if is_uploads(ex) else None)
        result = self.sync(new_run_id("sync-503"), "--format", "dcp", "--once", url=down.base_url, code=5)
        self.assertIn("StorageUnavailable", result.stderr)

        run = new_run_id("sync-503-watch")
        flaky = self.proxy()
        failures = []

        def fail_first_attempt(ex):
            if is_uploads(ex) and len(failures) < 3:  # all 3 of the client's attempts of the first try
                failures.append(ex)
                return 503, {"content-type": "application/json"}, busy
            return None

        flaky.before.append(fail_first_attempt)
        proc = self.watching(run, flaky)
        wait_for(lambda: checkpoint_states(run).get(1) == "COMMITTED", timeout=60, what="step 1 committed")
        proc.kill()
        _, err = proc.communicate(timeout=30)
        self.assertIn("step 1: StorageUnavailable: storage is busy (HTTP 503); trying again in 2 s", err)
        self.assertEqual(4, len(flaky.exchanges(is_uploads)))

    def test_options_that_describe_no_layout_are_usage_errors(self):
        for args, message in ((["--once"], "--format dcp|hf|lightning"),
                              (["--pattern", "step-(", "--marker", "M"], "not a regular expression"),
                              (["--pattern", r"step-\d+", "--marker", "M"], "needs a group"),
                              (["--format", "lightning", "--marker", "M"], "does not apply")):
            with self.subTest(args=args):
                result = self.sync("r", *args, code=2)
                self.assertIn(message, result.stderr)
        missing = run_cli("sync", "--run", "r", "--watch", os.path.join(self.tmp, "nope"), "--format", "dcp")
        self.assertEqual(2, missing.returncode)
        self.assertIn("is not a directory", missing.stderr)


if __name__ == "__main__":
    unittest.main()
