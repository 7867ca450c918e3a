"""CheckpointClient against the real local stack (ckptvault local host + Azurite)."""

import base64
import hashlib
import json
import os
import tempfile
import threading
import time
import unittest
import urllib.parse

from support import (BASE_URL, FaultProxy, KiB, assert_commits_name_their_writes, client, new_run_id, payload,
                     read_tree, require_stack, token_for, write_files)

from ckptvault import CheckpointError, manifest_from


def setUpModule():
    require_stack()


def is_put_block(ex):
    return ex.kind == "blob" and ex.method == "PUT" and "comp=block&" in ex.query + "&"


def is_uploads_call(ex):
    return ex.kind == "api" and ex.method == "POST" and ex.path.endswith("/uploads")


class TempDirs(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="ckptvault-test-")
        self.tmp = self._tmp.name
        self.addCleanup(self._tmp.cleanup)

    def folder(self, name):
        path = os.path.join(self.tmp, name)
        os.makedirs(path, exist_ok=True)
        return path

    def proxy(self):
        proxy = FaultProxy(BASE_URL)
        self.addCleanup(proxy.close)
        return proxy


class UploadAndDownloadTest(TempDirs):
    def test_large_file_goes_up_as_parallel_blocks_and_comes_back_byte_identical(self):
        run = new_run_id("blocks")
        files = {"model.bin": payload(5 * 64 * KiB + 123, 1), "meta/config.json": b'{"lr": 0.1}',
                 "empty.txt": b""}
        src = write_files(self.folder("src"), files)
        proxy = self.proxy()

        def slow_blocks(ex):
            # Holds each block briefly so overlapping requests are visible to the proxy.
            if is_put_block(ex):
                time.sleep(0.05)
            return None

        proxy.before.append(slow_blocks)
        with client(proxy.base_url, token=token_for(run), max_workers=4) as c:
            result = c.upload_checkpoint(run, 100, src, metrics={"loss": 1.5})

        self.assertEqual("COMMITTED", result["checkpoint"]["state"])
        blocks = proxy.exchanges(is_put_block)
        self.assertEqual(6, len(blocks), "5 full 64 KiB blocks and one of 123 bytes")
        self.assertTrue(all(ex.path.endswith("/model.bin") for ex in blocks))
        self.assertGreaterEqual(proxy.max_active[("blob", "PUT")], 2, "blocks were not sent in parallel")
        by_path = {f["path"]: f for f in result["files"]}
        self.assertEqual(hashlib.sha256(files["model.bin"]).hexdigest(), by_path["model.bin"]["sha256"])
        self.assertTrue(by_path["model.bin"]["etag"])
        assert_commits_name_their_writes(self, proxy.exchanges())

        with client(token=token_for(run)) as c:
            latest = c.latest(run)
            self.assertEqual(100, latest["step"])
            self.assertEqual({"loss": 1.5}, latest["metrics"])
            dest = self.folder("dest")
            c.download_checkpoint(run, "latest", dest)
        self.assertEqual(files, read_tree(dest))

    def test_block_download_of_a_numbered_step_is_parallel_and_verified(self):
        run = new_run_id("rangeddl")
        files = {"shard.bin": payload(4 * 64 * KiB + 7, 2)}
        with client(token=token_for(run)) as c:
            c.upload_checkpoint(run, 5, write_files(self.folder("src"), files))
        proxy = self.proxy()
        with client(proxy.base_url, token=token_for(run)) as c:
            checkpoint = c.download_checkpoint(run, 5, self.folder("dest"))
        self.assertEqual(5, checkpoint["step"])
        ranged = proxy.exchanges(lambda ex: ex.kind == "blob" and ex.method == "GET")
        self.assertEqual(5, len(ranged), "one ranged GET per 64 KiB block")
        self.assertEqual(files, read_tree(self.folder("dest")))

    def test_non_blocking_upload_returns_a_future_of_the_committed_checkpoint(self):
        run = new_run_id("async")
        src = write_files(self.folder("src"), {"w.bin": payload(3 * 64 * KiB, 3)})
        with client(token=token_for(run)) as c:
            future = c.upload_checkpoint_async(run, 7, src, metrics={"loss": 0.25})
            result = future.result(timeout=120)
            self.assertEqual("COMMITTED", result["checkpoint"]["state"])
            self.assertEqual(7, c.latest(run)["step"])


class RetryTest(TempDirs):
    def test_injected_503s_on_the_api_and_on_storage_are_retried(self):
        run = new_run_id("retry")
        files = {"model.bin": payload(3 * 64 * KiB, 4), "small.txt": b"tiny"}
        src = write_files(self.folder("src"), files)
        proxy = self.proxy()
        api_503 = proxy.answer_once(is_uploads_call, 503,
                                    b'{"error":{"code":"StorageUnavailable","message":"try again"}}',
                                    {"content-type": "application/json"})
        block_503 = proxy.answer_once(is_put_block, 503, b"", {"x-ms-error-code": "ServerBusy"})
        commit_503 = proxy.answer_once(lambda ex: ex.kind == "api" and ex.path.endswith("/commit"), 503)

        with client(proxy.base_url, token=token_for(run)) as c:
            result = c.upload_checkpoint(run, 1, src)

        self.assertEqual("COMMITTED", result["checkpoint"]["state"])
        self.assertTrue(api_503 and block_503 and commit_503, "every fault fired")
        failed_block = block_503[0].params()["blockid"]
        retried = [ex for ex in proxy.exchanges(is_put_block) if ex.params()["blockid"] == failed_block]
        self.assertEqual([503, 201], [ex.status for ex in retried])
        with client(token=token_for(run)) as c:
            c.download_checkpoint(run, 1, self.folder("dest"))
        self.assertEqual(files, read_tree(self.folder("dest")))

    def test_a_service_error_is_raised_with_its_code_and_message(self):
        run = new_run_id("bad")
        with client(token=token_for(run)) as c:
            with self.assertRaises(CheckpointError) as caught:
                c.request_uploads(run, 1, [{"path": "../escape.bin", "size": 1}])
        self.assertEqual(400, caught.exception.status)
        self.assertEqual("InvalidPath", caught.exception.code)
        self.assertIn("files[0].path", caught.exception.message + str(caught.exception.target))

    def test_persistent_storage_failure_gives_up_after_the_configured_attempts(self):
        run = new_run_id("giveup")
        src = write_files(self.folder("src"), {"a.txt": b"abc"})
        proxy = self.proxy()
        proxy.before.append(lambda ex: (503, {"x-ms-error-code": "ServerBusy"}, b"") if ex.kind == "blob" else None)
        with client(proxy.base_url, token=token_for(run)) as c:
            with self.assertRaises(CheckpointError) as caught:
                c.upload_checkpoint(run, 1, src)
        self.assertEqual(503, caught.exception.status)
        self.assertEqual("ServerBusy", caught.exception.code)
        self.assertEqual(5, len(proxy.exchanges(lambda ex: ex.kind == "blob")), "attempts=5 in the test client")
        self.assertNotIn("sig=", str(caught.exception), "no SAS signature in error messages")


def spoil_first_uploads_answer():
    """An ``after`` rule spoiling the signatures of the first URLs the service hands out: storage
    then refuses them for real."""
    spoiled = []

    def rule(ex, status, headers, body):
        if is_uploads_call(ex) and not spoiled:
            spoiled.append(ex)
            body = body.replace(b"sig=", b"sig=AAAA")
        return status, headers, body

    return rule


class UrlRefreshTest(TempDirs):
    def test_url_refused_by_storage_mid_upload_is_renewed_from_the_service(self):
        # Storage refuses an expired SAS and a bad signature alike (403 AuthenticationFailed on
        # Azure, AuthorizationFailure on Azurite). The proxy spoils the signature of the first URLs the service hands
        # out, so the first block is refused by Azurite for real, without waiting out a lifetime.
        run = new_run_id("refused")
        files = {"model.bin": payload(4 * 64 * KiB, 5)}
        src = write_files(self.folder("src"), files)
        proxy = self.proxy()
        proxy.after.append(spoil_first_uploads_answer())
        with client(proxy.base_url, token=token_for(run), max_workers=1) as c:
            result = c.upload_checkpoint(run, 3, src)

        self.assertEqual("COMMITTED", result["checkpoint"]["state"])
        statuses = [ex.status for ex in proxy.exchanges(is_put_block)]
        self.assertEqual(403, statuses[0], "storage refused the spoiled URL")
        self.assertEqual([201] * 4, statuses[1:], "every block went up with the renewed URL")
        self.assertEqual(2, len(proxy.exchanges(is_uploads_call)), "one renewal")
        with client(token=token_for(run)) as c:
            c.download_checkpoint(run, 3, self.folder("dest"))
        self.assertEqual(files, read_tree(self.folder("dest")))

    def test_a_refused_last_write_gets_a_renewed_url_for_its_file(self):
        # A Put Blob (and a Put Block List) is a file's last write: renewals otherwise leave that file
        # out, but when storage refuses the write itself, its file needs the new URL.
        run = new_run_id("refused-last")
        files = {"small.bin": payload(1000, 13)}
        proxy = self.proxy()
        proxy.after.append(spoil_first_uploads_answer())
        with client(proxy.base_url, token=token_for(run)) as c:
            result = c.upload_checkpoint(run, 6, write_files(self.folder("src"), files))
        self.assertEqual("COMMITTED", result["checkpoint"]["state"])
        puts = [ex.status for ex in proxy.exchanges(lambda ex: ex.kind == "blob" and ex.method == "PUT")]
        self.assertEqual([403, 201], puts)
        asked = [[f["path"] for f in json.loads(ex.body)["files"]] for ex in proxy.exchanges(is_uploads_call)]
        self.assertEqual([["small.bin"], ["small.bin"]], asked)

    def test_urls_are_renewed_before_they_expire_during_a_long_upload(self):
        # The client's clock jumps 29 minutes after the first block of a 30-minute URL: the next
        # block must use a URL the service issued after the jump.
        run = new_run_id("expiring")
        files = {"model.bin": payload(4 * 64 * KiB, 6)}
        src = write_files(self.folder("src"), files)
        proxy = self.proxy()
        skew = [0.0]

        def on_progress(done, total):
            if done >= 64 * KiB:
                skew[0] = 29 * 60.0

        with client(proxy.base_url, token=token_for(run), max_workers=1, url_minutes=30, refresh_margin=120,
                    on_progress=on_progress, clock=lambda: time.time() + skew[0]) as c:
            result = c.upload_checkpoint(run, 4, src)

        self.assertEqual("COMMITTED", result["checkpoint"]["state"])
        sequence = [("uploads" if is_uploads_call(ex) else "block" if is_put_block(ex) else "other")
                    for ex in proxy.log]
        self.assertEqual(["uploads", "block", "uploads", "block", "block", "block"], sequence[:6],
                         "URLs renewed once, right after the clock jump and before the next block")
        self.assertNotIn(403, [ex.status for ex in proxy.log])


    def test_a_renewal_asks_only_for_files_still_being_written(self):
        # A file whose last write is sent needs no new URL, and a service that discards whatever is
        # stored under a path it issues a URL for (before discard became conditional) would delete
        # it: a renewal names only files still being written.
        run = new_run_id("renew-pending")
        files = {"big.bin": payload(4 * 64 * KiB, 12), "small.bin": payload(1000, 11)}
        src = write_files(self.folder("src"), files)
        proxy = self.proxy()
        skew = [0.0]
        small_written = threading.Event()
        renewed = threading.Event()

        def after(ex, status, headers, body):
            if ex.kind == "blob" and ex.method == "PUT" and ex.path.endswith("/small.bin") and status == 201:
                skew[0] = 29 * 60.0  # the URLs are about to expire: the next URL lookup renews them
                small_written.set()
                # The worst moment: small.bin is stored but its writer has not heard so yet while
                # big.bin's next block renews the URLs. The renewal must not name small.bin.
                renewed.wait(10)
            return status, headers, body

        def before(ex):
            if is_uploads_call(ex) and small_written.is_set():
                renewed.set()
            # Hold the big file's later blocks until the small file is written, whatever the order.
            if ex.kind == "blob" and ex.path.endswith("/big.bin") and "blockid=" in (ex.query or "") \
                    and not ex.query.endswith(urllib.parse.quote(base64.b64encode(b"%08d" % 0).decode(), safe="")):
                small_written.wait(30)
            return None

        proxy.after.append(after)
        proxy.before.append(before)
        with client(proxy.base_url, token=token_for(run), max_workers=1, url_minutes=30, refresh_margin=120,
                    commit_timeout=20, clock=lambda: time.time() + skew[0]) as c:
            result = c.upload_checkpoint(run, 5, src)

        self.assertEqual("COMMITTED", result["checkpoint"]["state"])
        asked = [sorted(f["path"] for f in json.loads(ex.body)["files"]) for ex in proxy.log if is_uploads_call(ex)]
        self.assertEqual([["big.bin", "small.bin"], ["big.bin"]], asked)


class ManifestEtagTest(TempDirs):
    # The commit names each file's write by the ETag storage answered to it; the service refuses a
    # manifest file without one (400 InvalidManifest naming files[i].etag).

    def test_a_manifest_file_without_an_etag_is_refused_before_anything_is_sent(self):
        run = new_run_id("no-etag")
        proxy = self.proxy()
        with client(proxy.base_url, token=token_for(run)) as c:
            with self.assertRaises(CheckpointError) as caught:
                c.commit(run, 1, {"files": [{"path": "a.bin", "size": 3, "etag": "\"0x1\""},
                                            {"path": "b.bin", "size": 3}]})
        self.assertEqual(("InvalidManifest", "files[1].etag"), (caught.exception.code, caught.exception.target))
        self.assertEqual([], proxy.exchanges(), "nothing was sent")

    def test_a_write_answered_without_an_etag_is_not_committed(self):
        run = new_run_id("lost-etag")
        proxy = self.proxy()
        proxy.after.append(lambda ex, status, headers, body: (
            status, {k: v for k, v in headers.items() if k.lower() != "etag"} if ex.kind == "blob" else headers,
            body))
        with client(proxy.base_url, token=token_for(run)) as c:
            with self.assertRaises(CheckpointError) as caught:
                c.upload_checkpoint(run, 1, write_files(self.folder("src"), {"a.bin": b"abc"}))
            self.assertEqual("NoETag", caught.exception.code)
            self.assertIsNone(c.latest(run))
        self.assertEqual([], proxy.exchanges(lambda ex: ex.path.endswith("/commit")))


class DownloadVerificationTest(TempDirs):
    def upload(self, run, files):
        with client(token=token_for(run)) as c:
            return c.upload_checkpoint(run, 9, write_files(self.folder("src"), files))

    def test_a_flipped_byte_is_reported_as_sha256_mismatch_and_no_file_is_left(self):
        run = new_run_id("flip")
        self.upload(run, {"a.bin": payload(1000, 7), "b.bin": payload(3 * 64 * KiB, 8)})
        for name in ("a.bin", "b.bin"):
            with self.subTest(name=name):
                proxy = self.proxy()

                def flip(ex, status, headers, body, name=name):
                    if ex.kind == "blob" and ex.method == "GET" and ex.path.endswith("/" + name) and body:
                        body = bytes([body[0] ^ 0x01]) + body[1:]
                    return status, headers, body

                proxy.after.append(flip)
                dest = self.folder("dest-" + name)
                with client(proxy.base_url, token=token_for(run)) as c:
                    with self.assertRaises(CheckpointError) as caught:
                        c.download_checkpoint(run, 9, dest, prefix=name)
                self.assertEqual("Sha256Mismatch", caught.exception.code)
                self.assertEqual({}, read_tree(dest), "neither the file nor a partial file is left")

    def test_a_short_body_is_reported_as_size_mismatch(self):
        run = new_run_id("short")
        self.upload(run, {"a.bin": payload(1000, 9)})
        proxy = self.proxy()
        proxy.after.append(lambda ex, status, headers, body: (
            status, headers, body[:-10] if ex.kind == "blob" and ex.method == "GET" else body))
        with client(proxy.base_url, token=token_for(run)) as c:
            with self.assertRaises(CheckpointError) as caught:
                c.download_checkpoint(run, 9, self.folder("dest"))
        self.assertEqual("SizeMismatch", caught.exception.code)

    def test_download_without_a_committed_checkpoint_raises_no_committed_checkpoint(self):
        run = new_run_id("none")
        with client(token=token_for(run, "read")) as c:
            self.assertIsNone(c.latest(run))
            with self.assertRaises(CheckpointError) as caught:
                c.download_checkpoint(run, "latest", self.folder("dest"))
        self.assertEqual("NoCommittedCheckpoint", caught.exception.code)
        self.assertEqual(404, caught.exception.status)


class MultiRankTest(TempDirs):
    def test_two_ranks_upload_rank_zero_commits_and_each_rank_resumes_its_own_files(self):
        run = new_run_id("ranks")
        shards = {rank: {"model.bin": payload(2 * 64 * KiB + rank, 10 + rank), "rng.bin": payload(64, 20 + rank)}
                  for rank in (0, 1)}
        results = [None, None]
        errors = []

        def rank_main(rank):
            try:
                src = write_files(self.folder("rank%d" % rank), shards[rank])
                # Every rank holds the one write token the launcher issued for the run.
                with client(token=token_for(run)) as c:
                    results[rank] = c.upload_checkpoint(run, 20, src, rank=rank, world_size=2)
            except Exception as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=rank_main, args=(r,)) for r in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([], errors)
        self.assertIsNone(results[1]["checkpoint"], "with world_size 2 no rank commits on its own")

        with client(token=token_for(run)) as c:
            self.assertIsNone(c.latest(run), "nothing is committed before rank 0 commits")
            committed = c.commit(run, 20, manifest_from(results, metrics={"loss": 0.5},
                                                        metadata={"framework": "test"}))
            self.assertEqual("COMMITTED", committed["state"])
            latest = c.latest(run)
            self.assertEqual(["rank-00000/model.bin", "rank-00000/rng.bin", "rank-00001/model.bin",
                              "rank-00001/rng.bin"], sorted(f["path"] for f in latest["files"]))
            for rank in (0, 1):
                dest = self.folder("restore%d" % rank)
                c.download_checkpoint(run, "latest", dest, prefix="rank-%05d/" % rank)
                self.assertEqual({"rank-%05d/%s" % (rank, k): v for k, v in shards[rank].items()},
                                 read_tree(dest))
            plan = c.plan(run)
            self.assertIn(20, [k["step"] for k in plan["keep"]])

            with self.assertRaises(CheckpointError) as caught:
                c.commit(run, 20, manifest_from(results[:1]))
            self.assertEqual(409, caught.exception.status)
            self.assertEqual("ManifestConflict", caught.exception.code)
            with self.assertRaises(CheckpointError) as caught:
                c.request_uploads(run, 20, [{"path": "rank-00000/model.bin", "size": 1}])
            self.assertEqual(409, caught.exception.status)
            self.assertEqual("CheckpointCommitted", caught.exception.code)


if __name__ == "__main__":
    unittest.main()
