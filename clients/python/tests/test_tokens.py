"""Run tokens end to end: `ckptvault token create/revoke` and what a token may do (docs/access.md),
against the service's real checks: no token is 401 Unauthenticated, another run's token 403
Forbidden, a read token cannot write, a revoked token stops working."""

import json
import os
import tempfile
import unittest

from support import (ADMIN_KEY, BASE_URL, admin_client, cli_env, new_run_id, require_stack, run_cli, wait_for,
                     write_files)


def setUpModule():
    require_stack()


class RunTokenTest(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="ckptvault-tokens-")
        self.addCleanup(tmp.cleanup)
        self.tmp = tmp.name
        # A run of its own, with tokens of its own (not support.token_for's): a test here revokes them.
        self.run_id = new_run_id("tokens")
        with admin_client() as c:
            self.write = c.create_token(self.run_id, "write", 60)
        self.src = write_files(os.path.join(self.tmp, "src"), {"a.bin": b"abc"})

    def cli(self, *args, token=None):
        return run_cli(*args, env=cli_env(BASE_URL, CKPT_TOKEN=token, CKPT_ADMIN_KEY=ADMIN_KEY))

    def test_token_create_answers_the_contract_and_human_output_is_the_token_alone(self):
        self.assertEqual((self.run_id, "write"), (self.write["runId"], self.write["scope"]))
        self.assertTrue(self.write["token"] and self.write["expiresOn"])

        doc = self.cli("--json", "token", "create", self.run_id, "--scope", "read", "--ttl-minutes", 30)
        self.assertEqual(0, doc.returncode, doc.stderr)
        answer = json.loads(doc.stdout)
        self.assertLessEqual({"token", "runId", "scope", "expiresOn"}, set(answer))
        self.assertEqual("read", answer["scope"])

        human = self.cli("token", "create", self.run_id, "--scope", "write")
        self.assertEqual(0, human.returncode, human.stderr)
        self.assertEqual(1, len(human.stdout.splitlines()), "CKPT_TOKEN=$(ckptvault token create ...) works")
        self.assertIn("write token for run %s, expires" % self.run_id, human.stderr)

    def test_a_write_token_uploads_and_reads_a_read_token_only_reads(self):
        up = self.cli("upload", self.run_id, 1, self.src, token=self.write["token"])
        self.assertEqual(0, up.returncode, up.stderr)
        with admin_client() as c:
            read = c.create_token(self.run_id, "read", 30)["token"]
        self.assertEqual(0, self.cli("ls", self.run_id, token=read).returncode)
        self.assertEqual(0, self.cli("download", self.run_id, "latest", os.path.join(self.tmp, "d"),
                                     token=read).returncode)
        refused = self.cli("upload", self.run_id, 2, self.src, token=read)
        self.assertEqual(4, refused.returncode, refused.stderr)
        self.assertIn("Forbidden", refused.stderr)

    def test_a_token_of_another_run_is_forbidden_and_no_token_is_unauthenticated(self):
        other = self.cli("ls", new_run_id("tokens-other"), token=self.write["token"])
        self.assertEqual(4, other.returncode, other.stderr)
        self.assertIn("Forbidden", other.stderr)
        anonymous = self.cli("ls", self.run_id)
        self.assertEqual(4, anonymous.returncode, anonymous.stderr)
        self.assertIn("Unauthenticated", anonymous.stderr)

    def test_revoked_tokens_stop_working_within_a_minute(self):
        self.assertEqual(0, self.cli("upload", self.run_id, 1, self.src, token=self.write["token"]).returncode)
        revoked = self.cli("token", "revoke", self.run_id)
        self.assertEqual(0, revoked.returncode, revoked.stderr)

        def refused():
            result = self.cli("ls", self.run_id, token=self.write["token"])
            return result if result.returncode == 4 else None

        self.assertIn("Unauthenticated", wait_for(refused, timeout=90, what="the revoked token to be refused").stderr)
        fresh = self.cli("token", "create", self.run_id, "--scope", "read").stdout.strip()
        self.assertEqual(0, self.cli("ls", self.run_id, token=fresh).returncode, "a token issued after it works")


if __name__ == "__main__":
    unittest.main()
