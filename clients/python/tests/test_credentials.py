"""Which credential goes where: run tokens as Bearer on run routes, the admin key on admin routes,
nothing to storage, nothing over plain http to another machine, and never in any output. The
credentials are real (a token issued through the admin route, the host's admin key), so every call
that is expected to work shows that the service accepted what was sent; a recording proxy shows
what was sent."""

import os
import tempfile
import unittest

from support import (ADMIN_KEY, BASE_URL, FaultProxy, KiB, cli_env, client, new_run_id, payload, require_stack,
                     run_cli, token_for, write_files)

from ckptvault import CheckpointClient

# Only for calls refused before anything is sent: these never reach a service.
NEVER_SENT_TOKEN = "ckv1.never-sent-token"
NEVER_SENT_KEY = "never-sent-admin-key"


def setUpModule():
    require_stack()


class CredentialTest(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="ckptvault-cred-")
        self.addCleanup(tmp.cleanup)
        self.tmp = tmp.name
        self.proxy = FaultProxy(BASE_URL)
        self.addCleanup(self.proxy.close)
        self.names = {}
        self.name(ADMIN_KEY, "the admin key")

    def name(self, secret, label):
        """Registers ``secret`` under ``label``: assertions compare labels, so that a failure message
        never prints a credential."""
        self.names[secret] = label
        self.names["Bearer " + secret] = "Bearer " + label
        return secret

    def seen(self, value):
        return None if value is None else self.names.get(value, "an unregistered value")

    def api(self, method=None, suffix=None):
        return self.proxy.exchanges(lambda ex: ex.kind == "api" and (method is None or ex.method == method)
                                    and (suffix is None or ex.path.endswith(suffix)))

    def assertCredentials(self, exchanges, authorization, functions_key):
        self.assertTrue(exchanges, "no request seen")
        for ex in exchanges:
            self.assertEqual((self.seen(authorization), self.seen(functions_key)),
                             (self.seen(ex.headers.get("authorization")), self.seen(ex.headers.get("x-functions-key"))),
                             ex)


def is_admin_route(ex):
    """docs/access.md: every PUT and DELETE under /api/runs, the runs list and /api/manage."""
    return (ex.path.startswith("/api/manage/") or ex.path == "/api/runs"
            or (ex.method in ("PUT", "DELETE") and ex.path.startswith("/api/runs/")))


class ClientCredentialTest(CredentialTest):
    def test_a_run_token_goes_as_bearer_on_run_routes_and_never_to_storage(self):
        run = new_run_id("bearer")
        token = self.name(token_for(run), "the write token")
        src = write_files(os.path.join(self.tmp, "src"), {"m.bin": payload(3 * 64 * KiB, 1)})
        with client(self.proxy.base_url, token=token) as c:
            c.upload_checkpoint(run, 1, src)
            c.download_checkpoint(run, "latest", os.path.join(self.tmp, "d"))
            c.plan(run)
            c.checkpoints(run)
        self.assertCredentials(self.api(), "Bearer " + token, None)
        blobs = self.proxy.exchanges(lambda ex: ex.kind == "blob")
        self.assertEqual(3 + 1 + 3, len(blobs), "3 blocks and the block list up, 3 ranges down, all seen")
        self.assertCredentials(blobs, None, None)

    def test_the_admin_key_goes_only_to_admin_routes(self):
        run = new_run_id("adminkey")
        token = self.name(token_for(run), "the write token")
        src = write_files(os.path.join(self.tmp, "src"), {"a": b"1"})
        with client(self.proxy.base_url, token=token, admin_key=ADMIN_KEY) as c:
            c.upload_checkpoint(run, 1, src)
            c.pin(run, 1)
            c.unpin(run, 1)
            c.put_run(run, {"keepLast": 4})
            c.runs()
            c.run(run)
            c.create_token(run, "read", 5)
        admin = [ex for ex in self.api() if is_admin_route(ex)]
        self.assertEqual(["PUT", "DELETE", "PUT", "GET", "POST"], [ex.method for ex in admin])
        self.assertCredentials(admin, None, ADMIN_KEY)
        self.assertCredentials([ex for ex in self.api() if ex not in admin], "Bearer " + token, None)

    def test_ckpt_token_from_the_environment_is_used_when_no_token_is_given(self):
        run = new_run_id("envtoken")
        from_env = self.name(token_for(run), "the write token")
        explicit = self.name(token_for(run, "read"), "the read token")
        os.environ["CKPT_TOKEN"] = from_env
        try:
            with CheckpointClient(self.proxy.base_url) as c:
                self.assertIsNone(c.latest(run))
            with CheckpointClient(self.proxy.base_url, token=explicit) as c:
                self.assertIsNone(c.latest(run))
        finally:
            del os.environ["CKPT_TOKEN"]
        first, second = self.api()
        self.assertEqual("Bearer the write token", self.seen(first.headers.get("authorization")))
        self.assertEqual("Bearer the read token", self.seen(second.headers.get("authorization")),
                         "token= wins over CKPT_TOKEN")

    def test_credentials_go_over_plain_http_only_to_loopback(self):
        for kwargs in ({"token": NEVER_SENT_TOKEN}, {"admin_key": NEVER_SENT_KEY}):
            for url in ("http://example.com", "http://10.0.0.5:7071", "http://127.0.0.1.example.com"):
                with self.subTest(url=url, credential=list(kwargs)[0]):
                    with self.assertRaises(ValueError) as caught:
                        CheckpointClient(url, **kwargs)
                    self.assertIn("use https://", str(caught.exception))
                    self.assertNotIn(list(kwargs.values())[0], str(caught.exception))
        for url in ("http://127.0.0.1:7071", "http://127.8.9.10", "http://[::1]:7071", "http://localhost:7071",
                    "https://example.com"):
            with self.subTest(url=url):
                CheckpointClient(url, token=NEVER_SENT_TOKEN).close()
        CheckpointClient("http://example.com").close()  # no credential, nothing to protect
        with self.assertRaises(ValueError):
            CheckpointClient("example.com:7071")


class CliCredentialTest(CredentialTest):
    def test_the_cli_sends_the_token_on_run_commands_and_the_admin_key_on_admin_commands(self):
        run = new_run_id("cli-cred")
        token = self.name(token_for(run), "the write token")
        src = write_files(os.path.join(self.tmp, "src"), {"a": b"1"})
        env = cli_env(self.proxy.base_url, CKPT_TOKEN=token, CKPT_ADMIN_KEY=ADMIN_KEY)
        for args in (("upload", run, 1, src), ("ls", run), ("latest", run), ("plan", run), ("policy", "get", run),
                     ("download", run, 1, os.path.join(self.tmp, "d"))):
            result = run_cli(*args, env=env)
            self.assertEqual(0, result.returncode, (args, result.stderr))
        self.assertCredentials(self.api(), "Bearer " + token, None)

        del self.proxy.log[:]
        for args in (("pin", run, 1), ("unpin", run, 1), ("runs",), ("policy", "set", run, "--keep-last", 3),
                     ("token", "create", run, "--scope", "read", "--ttl-minutes", 5)):
            result = run_cli(*args, env=env)
            self.assertEqual(0, result.returncode, (args, result.stderr))
        self.assertCredentials(self.api(), None, ADMIN_KEY)

        # The flags win over the environment: with the environment's credentials these would fail.
        del self.proxy.log[:]
        other = self.name(token_for(new_run_id("cli-cred-other")), "another run's token")
        wrong = cli_env(self.proxy.base_url, CKPT_TOKEN=other, CKPT_ADMIN_KEY="not-the-admin-key")
        read = self.name(token_for(run, "read"), "the read token")
        ls = run_cli("ls", run, "--token", read, env=wrong)
        self.assertEqual(0, ls.returncode, ls.stderr)
        runs = run_cli("--admin-key", ADMIN_KEY, "runs", env=wrong)
        self.assertEqual(0, runs.returncode, runs.stderr)
        sent_ls, sent_runs = self.api()
        self.assertEqual("Bearer the read token", self.seen(sent_ls.headers.get("authorization")),
                         "--token overrides CKPT_TOKEN")
        self.assertEqual("the admin key", self.seen(sent_runs.headers.get("x-functions-key")),
                         "--admin-key overrides CKPT_ADMIN_KEY")

    def test_no_output_contains_the_token_the_admin_key_or_a_sas_signature(self):
        run = new_run_id("cli-secret")
        token = token_for(run)
        src = write_files(os.path.join(self.tmp, "src"), {"m.bin": payload(2 * 64 * KiB, 2)})
        env = cli_env(self.proxy.base_url, CKPT_TOKEN=token, CKPT_ADMIN_KEY=ADMIN_KEY)
        outputs = []
        for args in (("upload", run, 1, src, "--block-kib", 64), ("--json", "latest", run), ("latest", run),
                     ("--json", "show", run, 1), ("--json", "download", run, "latest", os.path.join(self.tmp, "d")),
                     ("pin", run, 1), ("--json", "policy", "get", run), ("token", "revoke", run)):
            result = run_cli(*args, env=env)
            self.assertEqual(0, result.returncode, result.stderr)
            outputs.append(result.stdout + result.stderr)

        # The revoked token, refused by the service: the error does not repeat it.
        refused_token = run_cli("ls", run, env=env)
        self.assertEqual(4, refused_token.returncode, refused_token.stderr)
        self.assertIn("Unauthenticated", refused_token.stderr)
        outputs.append(refused_token.stdout + refused_token.stderr)
        # A wrong admin key, refused by the service.
        refused_key = run_cli("--json", "runs", env=cli_env(self.proxy.base_url, CKPT_ADMIN_KEY=ADMIN_KEY[::-1]))
        self.assertEqual(4, refused_key.returncode, refused_key.stderr)
        outputs.append(refused_key.stdout + refused_key.stderr)

        # Storage refusing every write: the error names the blob, not its SAS.
        fresh = run_cli("token", "create", run, "--scope", "write", env=env).stdout.strip()
        self.proxy.before.append(lambda ex: (403, {"x-ms-error-code": "AuthorizationFailure"}, b"")
                                 if ex.kind == "blob" else None)
        refused = run_cli("upload", run, 2, src, "--block-kib", 64, "--retries", 2,
                          env=cli_env(self.proxy.base_url, CKPT_TOKEN=fresh))
        self.assertEqual(4, refused.returncode, refused.stderr)
        self.assertIn("AuthorizationFailure", refused.stderr)
        outputs.append(refused.stdout + refused.stderr)

        for i, text in enumerate(outputs):
            for label, secret in (("the token", token), ("the fresh token", fresh), ("the admin key", ADMIN_KEY),
                                  ("the wrong admin key", ADMIN_KEY[::-1])):
                # assertNotIn would print the secret it found.
                self.assertFalse(secret in text, "output %d contains %s" % (i, label))
            self.assertNotIn("sig=", text)

    def test_the_cli_refuses_to_send_a_credential_over_plain_http_to_another_host(self):
        result = run_cli("ls", "r", env=cli_env("http://example.com", CKPT_TOKEN=NEVER_SENT_TOKEN))
        self.assertEqual(2, result.returncode)
        self.assertIn("refusing to send a credential over plain http to example.com", result.stderr)
        self.assertNotIn(NEVER_SENT_TOKEN, result.stderr)


if __name__ == "__main__":
    unittest.main()
