"""The aios CLI: dispatch, help, --json output, exit codes (docs/CLI.md)."""

import json
import os
import subprocess
import unittest

CLI = os.environ["AIOS_CLI"]
VERSION = os.environ["AIOS_EXPECT_VERSION"]


def run(*args):
    p = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


class TopLevel(unittest.TestCase):
    def test_version_flag(self):
        rc, out, _ = run("--version")
        self.assertEqual(rc, 0)
        self.assertEqual(out.strip(), f"aios {VERSION}")

    def test_help_lists_commands_and_exit_codes(self):
        rc, out, _ = run("--help")
        self.assertEqual(rc, 0)
        for word in ("version", "selftest", "help", "Exit codes", "--json"):
            self.assertIn(word, out)

    def test_no_command_is_a_usage_error(self):
        rc, _, err = run()
        self.assertEqual(rc, 2)
        self.assertIn("Usage", err)

    def test_unknown_command(self):
        rc, _, err = run("frobnicate")
        self.assertEqual(rc, 2)
        self.assertIn("unknown command 'frobnicate'", err)

    def test_unknown_command_json(self):
        rc, out, _ = run("--json", "frobnicate")
        self.assertEqual(rc, 2)
        doc = json.loads(out)
        self.assertFalse(doc["ok"])
        self.assertEqual(doc["error"]["status"], "usage")
        # the members of every error object (docs/CLI.md, Errors)
        self.assertEqual(doc["error"]["code"], None)
        self.assertEqual(doc["error"]["kind"], "usage")
        self.assertIn("frobnicate", doc["error"]["message"])

    def test_unknown_global_option(self):
        rc, _, err = run("--bogus", "version")
        self.assertEqual(rc, 2)
        self.assertIn("--bogus", err)

    def test_help_for_each_command(self):
        for cmd in ("version", "selftest"):
            for argv in (("help", cmd), (cmd, "--help"), (cmd, "-h")):
                rc, out, _ = run(*argv)
                self.assertEqual(rc, 0, argv)
                self.assertTrue(out.startswith(f"Usage: aios {cmd}"), argv)
        rc, _, _ = run("help", "nope")
        self.assertEqual(rc, 2)


class Version(unittest.TestCase):
    def test_text(self):
        rc, out, err = run("version")
        self.assertEqual(rc, 0)
        self.assertIn(f"aios {VERSION} (libaios {VERSION}, ABI 1)", out)
        self.assertIn("libsodium", out)
        self.assertIn("bulk AEAD:", out)
        self.assertEqual(err, "")

    def test_json(self):
        for argv in (("--json", "version"), ("version", "--json")):
            rc, out, _ = run(*argv)
            self.assertEqual(rc, 0)
            doc = json.loads(out)
            self.assertEqual(doc["version"], VERSION)
            self.assertEqual(doc["abi"], 1)
            self.assertEqual(doc["tool_headers_version"], VERSION)
            self.assertIn(doc["uses"]["bulk_aead"], ("aes256gcm", "xchacha20poly1305"))
            self.assertIsInstance(doc["cpu"]["aesni"], bool)

    def test_extra_argument(self):
        rc, _, err = run("version", "extra")
        self.assertEqual(rc, 2)
        self.assertIn("unexpected argument 'extra'", err)

    def test_unknown_option(self):
        rc, _, _ = run("version", "--frob")
        self.assertEqual(rc, 2)


class Selftest(unittest.TestCase):
    def test_text(self):
        rc, out, _ = run("selftest")
        self.assertEqual(rc, 0)
        lines = out.strip().splitlines()
        self.assertRegex(lines[-1], r"^selftest: \d+ passed, 0 failed$")
        passed = int(lines[-1].split()[1])
        self.assertEqual(passed, len(lines) - 1)
        self.assertTrue(all(line.startswith("ok ") for line in lines[:-1]))
        self.assertIn("ok     ecdsa-p256", out)

    def test_quiet(self):
        rc, out, _ = run("--quiet", "selftest")
        self.assertEqual(rc, 0)
        self.assertEqual(len(out.strip().splitlines()), 1)

    def test_json(self):
        rc, out, _ = run("selftest", "--json")
        self.assertEqual(rc, 0)
        doc = json.loads(out)
        self.assertTrue(doc["ok"])
        self.assertEqual(doc["failed"], 0)
        self.assertEqual(doc["passed"], len(doc["tests"]))
        names = {t["name"] for t in doc["tests"]}
        for n in ("sha256", "hkdf-sha256", "ed25519", "x25519", "ecdsa-p384", "proto-keyref"):
            self.assertIn(n, names)
        self.assertTrue(all(t["status"] == "AIOS_OK" for t in doc["tests"]))


class Key(unittest.TestCase):
    """aios key: a keyring driven end to end, secrets from files only."""

    def setUp(self):
        import tempfile
        self.dir = tempfile.TemporaryDirectory()
        d = self.dir.name
        self.ring = os.path.join(d, "ring.aioskr")
        self.pw = os.path.join(d, "pass")
        with open(self.pw, "w") as f:
            f.write("correct horse battery\n")
        self.auth = ["--passphrase-file", self.pw]
        rc, out, err = run("key", "create", self.ring, *self.auth,
                           "--argon2-ops", "1", "--argon2-mem", str(8 << 20))
        self.assertEqual(rc, 0, err)

    def tearDown(self):
        self.dir.cleanup()

    def key(self, *args):
        rc, out, err = run("key", *args, self.ring, *self.auth) if False else \
            run("key", args[0], self.ring, *args[1:], *self.auth)
        return rc, out, err

    def test_lifecycle_json(self):
        rc, out, err = self.key("add", "kek", "--type", "aes256", "--attr", "tenant=acme", "--json")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertEqual(doc["key"]["id"], "kek")
        self.assertEqual(doc["key"]["version"], 1)
        self.assertEqual(doc["key"]["attributes"], {"tenant": "acme"})
        self.assertEqual(doc["key"]["purposes"], ["wrap"])
        rc, out, _ = self.key("rotate", "kek", "--json")
        self.assertEqual(json.loads(out)["key"]["version"], 2)
        rc, out, _ = self.key("list", "--json")
        self.assertEqual(rc, 0)
        keys = {k["id"]: k for k in json.loads(out)["keys"]}
        self.assertEqual(keys["kek"]["primary"], 2)
        states = {v["version"]: v["state"] for v in keys["kek"]["versions"]}
        self.assertEqual(states, {1: "decrypt-only", 2: "active"})
        rc, _, _ = self.key("disable", "kek", "1")
        self.assertEqual(rc, 0)
        rc, _, _ = self.key("destroy", "kek", "1")
        self.assertEqual(rc, 0)
        rc, out, _ = self.key("show", "kek", "--version", "1", "--json")
        self.assertEqual(json.loads(out)["key"]["state"], "destroyed")
        # The primary cannot be destroyed: exit code of the state kind.
        rc, _, err = self.key("destroy", "kek", "2")
        self.assertEqual(rc, 9)
        self.assertIn("primary", err)

    def test_import_version(self):
        """Rotation to material of one's own: primary at once or pending."""
        d = self.dir.name
        mat = [os.path.join(d, f"m{i}") for i in range(3)]
        for i, path in enumerate(mat):
            with open(path, "wb") as f:
                f.write(bytes((0x20 * (i + 1) + j) % 256 for j in range(32)))
        rc, _, err = self.key("import", "kek", "--type", "aes256", "--file", mat[0])
        self.assertEqual(rc, 0, err)
        rc, out, err = self.key("import-version", "kek", "--file", mat[1], "--json")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertEqual(doc["command"], "key import-version")
        self.assertEqual((doc["key"]["version"], doc["key"]["state"]), (2, "active"))
        rc, out, err = self.key("import-version", "kek", "--file", mat[2], "--pending", "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["key"]["state"], "pending")
        rc, out, _ = self.key("list", "--json")
        kek = json.loads(out)["keys"][0]
        self.assertEqual(kek["primary"], 2)
        self.assertEqual({v["version"]: v["state"] for v in kek["versions"]},
                         {1: "decrypt-only", 2: "active", 3: "pending"})
        rc, _, err = self.key("promote", "kek", "3")
        self.assertEqual(rc, 0, err)
        # The same material again: refused (state kind); nothing of it echoed.
        rc, out, err = self.key("import-version", "kek", "--file", mat[1], "--json")
        self.assertEqual(rc, 9)
        self.assertEqual(json.loads(out)["error"]["status"], "AIOS_E_KEY_EXISTS")
        # Material of the wrong form: invalid input.
        with open(mat[0], "wb") as f:
            f.write(b"-----BEGIN PRIVATE KEY-----\n")
        rc, _, err = self.key("import-version", "kek", "--file", mat[0])
        self.assertEqual(rc, 3)
        self.assertIn("AIOS_E_FORMAT", err)
        rc, _, _ = self.key("import-version", "nope", "--file", mat[1])
        self.assertEqual(rc, 5)
        rc, _, _ = self.key("import-version", "kek")            # no --file
        self.assertEqual(rc, 2)
        rc, out, _ = self.key("show", "kek", "--json")
        self.assertEqual(json.loads(out)["key"]["version"], 3)
        # A raw key that ends in a newline byte is read exactly (a text
        # file's trailing newline is dropped only for passphrases).
        with open(mat[0], "wb") as f:
            f.write(bytes(range(0x40, 0x40 + 31)) + b"\n")
        rc, _, err = self.key("import-version", "kek", "--file", mat[0])
        self.assertEqual(rc, 0, err)

    def test_public_key_export(self):
        rc, _, err = self.key("add", "signer", "--type", "ecdsa-p256")
        self.assertEqual(rc, 0, err)
        rc, out, _ = self.key("export-public", "signer")
        self.assertEqual(rc, 0)
        self.assertTrue(out.startswith("-----BEGIN PUBLIC KEY-----"))
        # A symmetric key has no public half: invalid-input exit code.
        self.key("add", "kek", "--type", "aes256")
        rc, _, _ = self.key("export-public", "kek")
        self.assertEqual(rc, 3)

    def test_wrong_passphrase_and_no_secret_echo(self):
        bad = os.path.join(self.dir.name, "bad")
        with open(bad, "w") as f:
            f.write("tr0ub4dor")
        rc, out, err = run("key", "list", self.ring, "--passphrase-file", bad)
        self.assertEqual(rc, 4)
        self.assertIn("AIOS_E_KEYRING_PASSPHRASE", err)
        self.assertNotIn("tr0ub4dor", out + err)
        self.assertNotIn("correct horse", out + err)

    def test_usage_errors(self):
        for argv in (("add", "k"), ("add", "k", "--type", "rot13"), ("promote", "k"),
                     ("frobnicate",), ("destroy", "k", "zero")):
            rc, _, _ = self.key(*argv)
            self.assertEqual(rc, 2, argv)

    def test_unknown_key(self):
        rc, out, _ = self.key("show", "nope", "--json")
        self.assertEqual(rc, 5)
        self.assertEqual(json.loads(out)["error"]["status"], "AIOS_E_KEY_NOT_FOUND")


if __name__ == "__main__":
    unittest.main()
