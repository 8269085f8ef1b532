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


if __name__ == "__main__":
    unittest.main()
