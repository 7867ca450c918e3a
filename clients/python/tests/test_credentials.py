"""Which credential goes where: run tokens as Bearer on run routes, the admin key on admin routes,
nothing to storage, nothing over plain http to another machine, and never in any output."""

import json
import os
import tempfile
import unittest

from support import (BASE_URL, FaultProxy, KiB, cli_env, client, new_run_id, payload, require_stack, run_cli,
                     write_files)

from ckptvault import CheckpointClient

TOKEN = "tok-3f9a2c-not-a-real-token"
ADMIN_KEY = "adm-77e1b0-not-a-real-key"


def setUpModule():
    require_stack()


class CredentialTest(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="ckptvault-cred-")
        self.addCleanup(tmp.cleanup)
        self.tmp = tmp.name
        self.proxy = FaultProxy(BASE_URL)
        self.addCleanup(self.proxy.close)

    def api(self, method=None, suffix=None):
        return self.proxy.exchanges(lambda ex: ex.kind == "api" and (method is None or ex.method == method)
                                    and (suffix is None or ex.path.endswith(suffix)))

    def assertCredentials(self, exchanges, authorization, functions_key):
        self.assertTrue(exchanges, "no request seen")
        for ex in exchanges:
            self.assertEqual((authorization, functions_key),
                             (ex.headers.get("authorization"), ex.headers.get("x-functions-key")), ex)


class ClientCredentialTest(CredentialTest):
    def test_a_run_token_goes_as_bearer_on_run_routes_and_never_to_storage(self):
        run = new_run_id("bearer")
        src = write_files(os.path.join(self.tmp, "src"), {"m.bin": payload(3 * 64 * KiB, 1)})
        with client(self.proxy.base_url, token=TOKEN) as c:
            c.upload_checkpoint(run, 1, src)
            c.download_checkpoint(run, "latest", os.path.join(self.tmp, "d"))
            c.plan(run)
            c.checkpoints(run)
        self.assertCredentials(self.api(), "Bearer " + TOKEN, None)
        blobs = self.proxy.exchanges(lambda ex: ex.kind == "blob")
        self.assertEqual(3 + 1 + 3, len(blobs), "3 blocks and the block list up, 3 ranges down, all seen")
        self.assertCredentials(blobs, None, None)

    def test_the_admin_key_goes_only_to_admin_routes(self):
        run = new_run_id("adminkey")
        src = write_files(os.path.join(self.tmp, "src"), {"a": b"1"})
        with client(self.proxy.base_url, token=TOKEN, admin_key=ADMIN_KEY) as c:
            c.upload_checkpoint(run, 1, src)
            c.pin(run, 1)
            c.unpin(run, 1)
            c.put_run(run, {"keepLast": 4})
            c.runs()
            c.run(run)
        admin = [ex for ex in self.api() if ex.path.endswith("/pin") or ex.path == "/api/runs"
                 or (ex.method == "PUT" and ex.path == "/api/runs/" + run)]
        self.assertEqual(4, len(admin))
        self.assertCredentials(admin, None, ADMIN_KEY)
        self.assertCredentials([ex for ex in self.api() if ex not in admin], "Bearer " + TOKEN, None)

    def test_ckpt_token_from_the_environment_is_used_when_no_credential_is_given(self):
        saved = os.environ.get("CKPT_TOKEN")
        os.environ["CKPT_TOKEN"] = TOKEN
        try:
            with CheckpointClient(self.proxy.base_url) as c:
                self.assertIsNone(c.latest(new_run_id("envtoken")))
            with CheckpointClient(self.proxy.base_url, "function-key-1") as c:
                self.assertIsNone(c.latest(new_run_id("envtoken")))
        finally:
            if saved is None:
                del os.environ["CKPT_TOKEN"]
            else:
                os.environ["CKPT_TOKEN"] = saved
        first, second = self.api()
        self.assertEqual("Bearer " + TOKEN, first.headers.get("authorization"))
        self.assertEqual((None, "function-key-1"),
                         (second.headers.get("authorization"), second.headers.get("x-functions-key")),
                         "an explicit function key wins over CKPT_TOKEN")

    def test_credentials_go_over_plain_http_only_to_loopback(self):
        for kwargs in ({"token": TOKEN}, {"admin_key": ADMIN_KEY}, {"function_key": "k"}):
            for url in ("http://example.com", "http://10.0.0.5:7071", "http://127.0.0.1.example.com"):
                with self.subTest(url=url, credential=list(kwargs)[0]):
                    with self.assertRaises(ValueError) as caught:
                        CheckpointClient(url, **kwargs)
                    self.assertIn("use https://", str(caught.exception))
                    self.assertNotIn(list(kwargs.values())[0], str(caught.exception))
        for url in ("http://127.0.0.1:7071", "http://127.8.9.10", "http://[::1]:7071", "http://localhost:7071",
                    "https://example.com"):
            with self.subTest(url=url):
                CheckpointClient(url, token=TOKEN).close()
        CheckpointClient("http://example.com").close()  # no credential, nothing to protect
        with self.assertRaises(ValueError):
            CheckpointClient("example.com:7071")


class CliCredentialTest(CredentialTest):
    def test_the_cli_sends_the_token_on_run_commands_and_the_admin_key_on_admin_commands(self):
        run = new_run_id("cli-cred")
        src = write_files(os.path.join(self.tmp, "src"), {"a": b"1"})
        env = cli_env(self.proxy.base_url, CKPT_TOKEN=TOKEN, CKPT_ADMIN_KEY=ADMIN_KEY)
        for args in (("upload", run, 1, src), ("ls", run), ("latest", run), ("plan", run), ("policy", "get", run),
                     ("download", run, 1, os.path.join(self.tmp, "d"))):
            self.assertEqual(0, run_cli(*args, env=env).returncode, args)
        self.assertCredentials(self.api(), "Bearer " + TOKEN, None)

        del self.proxy.log[:]
        for args in (("pin", run, 1), ("unpin", run, 1), ("runs",), ("policy", "set", run, "--keep-last", 3)):
            self.assertEqual(0, run_cli(*args, env=env).returncode, args)
        self.assertCredentials(self.api(), None, ADMIN_KEY)

        del self.proxy.log[:]
        self.assertEqual(0, run_cli("ls", run, "--token", "from-the-flag", env=env).returncode)
        self.assertEqual(0, run_cli("--admin-key", "flag-admin", "runs", env=env).returncode)
        ls, runs = self.api()
        self.assertEqual("Bearer from-the-flag", ls.headers.get("authorization"), "--token overrides CKPT_TOKEN")
        self.assertEqual("flag-admin", runs.headers.get("x-functions-key"), "--admin-key overrides CKPT_ADMIN_KEY")

    def test_no_output_contains_the_token_the_admin_key_or_a_sas_signature(self):
        run = new_run_id("cli-secret")
        src = write_files(os.path.join(self.tmp, "src"), {"m.bin": payload(2 * 64 * KiB, 2)})
        env = cli_env(self.proxy.base_url, CKPT_TOKEN=TOKEN, CKPT_ADMIN_KEY=ADMIN_KEY)
        outputs = []
        for args in (("upload", run, 1, src, "--block-kib", 64), ("--json", "latest", run), ("latest", run),
                     ("--json", "show", run, 1), ("--json", "download", run, "latest", os.path.join(self.tmp, "d"))):
            result = run_cli(*args, env=env)
            self.assertEqual(0, result.returncode, result.stderr)
            outputs.append(result.stdout + result.stderr)

        # Storage refusing every write: the error names the blob, not its SAS.
        self.proxy.before.append(lambda ex: (403, {"x-ms-error-code": "AuthorizationFailure"}, b"")
                                 if ex.kind == "blob" else None)
        refused = run_cli("upload", run, 2, src, "--block-kib", 64, "--retries", 2, env=env)
        self.assertEqual(4, refused.returncode, refused.stderr)
        self.assertIn("AuthorizationFailure", refused.stderr)
        outputs.append(refused.stdout + refused.stderr)
        self.proxy.before[:] = [lambda ex: (403, {"content-type": "application/json"},
                                            json.dumps({"error": {"code": "Forbidden", "message": "no"}}).encode())]
        forbidden = run_cli("--json", "pin", run, 1, env=env)
        self.assertEqual(4, forbidden.returncode)
        outputs.append(forbidden.stdout + forbidden.stderr)

        for text in outputs:
            self.assertNotIn(TOKEN, text)
            self.assertNotIn(ADMIN_KEY, text)
            self.assertNotIn("sig=", text)

    def test_the_cli_refuses_to_send_a_credential_over_plain_http_to_another_host(self):
        result = run_cli("ls", "r", env=cli_env("http://example.com", CKPT_TOKEN=TOKEN))
        self.assertEqual(2, result.returncode)
        self.assertIn("refusing to send a credential over plain http to example.com", result.stderr)
        self.assertNotIn(TOKEN, result.stderr)


if __name__ == "__main__":
    unittest.main()
