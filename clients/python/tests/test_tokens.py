"""Run tokens end to end: `ckptvault token create/revoke` and what a token may do (design: Access).

The token routes (POST/DELETE /api/manage/runs/{run}/tokens) are being built on the server. Until
they land, every test here is skipped by skip_until_server_has_token_routes, which fires ONLY when
the server answers 404 NotFound because no function serves that route; any other answer runs the
tests. Remove the guard once the server has the routes.
"""

import json
import os
import tempfile
import unittest

from support import (BASE_URL, cli_env, client, new_run_id, require_stack, run_cli, wait_for, write_files)

from ckptvault import CheckpointError

ADMIN_KEY = os.environ.get("CKPT_ADMIN_KEY")


def setUpModule():
    require_stack()


def skip_until_server_has_token_routes(test, run):
    """Skips ``test`` when the token route does not exist on this server yet (404 NotFound, "no
    function serves"); returns a write token for ``run`` otherwise."""
    with client(admin_key=ADMIN_KEY) as c:
        try:
            return c.create_token(run, "write", 60)
        except CheckpointError as e:
            if e.status == 404 and e.code == "NotFound" and e.message.startswith("no function serves"):
                test.skipTest("token routes not on this server yet: POST /api/manage/runs/{run}/tokens answers "
                              "404 NotFound (%s)" % e.message)
            raise


class RunTokenTest(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="ckptvault-tokens-")
        self.addCleanup(tmp.cleanup)
        self.tmp = tmp.name
        self.run_id = new_run_id("tokens")
        self.write = skip_until_server_has_token_routes(self, self.run_id)
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
        with client(admin_key=ADMIN_KEY) as c:
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
        wait_for(lambda: self.cli("ls", self.run_id, token=self.write["token"]).returncode == 4, timeout=90,
                 what="the revoked token to be refused")
        fresh = self.cli("token", "create", self.run_id, "--scope", "read").stdout.strip()
        self.assertEqual(0, self.cli("ls", self.run_id, token=fresh).returncode, "a token issued after it works")


if __name__ == "__main__":
    unittest.main()
