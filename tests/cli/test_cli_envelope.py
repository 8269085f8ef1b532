"""The aios envelope verbs: seal, open, peek, rewrap, fields (docs/CLI.md).

Driven as a script would drive them: real keyring files, secrets from
files, data through files and pipes.
"""

import json
import os
import pty
import shutil
import subprocess
import tempfile
import unittest

CLI = os.environ["AIOS_CLI"]


def run(*args, input=None, stdout=subprocess.PIPE):
    p = subprocess.run([CLI, *args], input=input, stdout=stdout, stderr=subprocess.PIPE,
                       timeout=300)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


class EnvelopeBase(unittest.TestCase):
    """A temporary directory with a keyring holding an AES KEK and an X25519 key."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.d = self.tmp.name
        self.ring = self.path("ring.aioskr")
        self.pw = self.path("pass")
        with open(self.pw, "w") as f:
            f.write("correct horse battery\n")
        self.auth = ["--passphrase-file", self.pw]
        self.kr = ["--keyring", self.ring, *self.auth]
        self.new_keyring(self.ring)
        self.key("add", "kek", "--type", "aes256")
        self.key("add", "xk", "--type", "x25519")
        rc, pem, err = run("key", "export-public", self.ring, "xk", *self.auth)
        self.assertEqual(rc, 0, err)
        self.xk_pem = self.path("xk.pem")
        with open(self.xk_pem, "wb") as f:
            f.write(pem)

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.d, name)

    def new_keyring(self, path):
        rc, _, err = run("key", "create", path, *self.auth, "--argon2-ops", "1",
                         "--argon2-mem", str(8 << 20))
        self.assertEqual(rc, 0, err)

    def key(self, action, *args, ring=None):
        rc, out, err = run("key", action, ring or self.ring, *args, *self.auth)
        self.assertEqual(rc, 0, f"key {action} {args}: {err}")
        return out

    def write(self, name, data):
        p = self.path(name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def read(self, name):
        with open(self.path(name), "rb") as f:
            return f.read()

    def seal(self, src, dst, *extra):
        rc, _, err = run("seal", *self.kr, "--to", "kek", *extra, "-o", self.path(dst),
                         self.path(src))
        self.assertEqual(rc, 0, err)

    def peek(self, name):
        rc, out, err = run("peek", "--json", self.path(name))
        self.assertEqual(rc, 0, err)
        return json.loads(out)

    def assert_no_leftovers(self, *absent):
        for name in absent:
            self.assertFalse(os.path.exists(self.path(name)), f"{name} was left behind")
        temps = [n for n in os.listdir(self.d) if ".aios-" in n]
        self.assertEqual(temps, [], "temporary files left behind")


class SealOpen(EnvelopeBase):
    def test_round_trip_files(self):
        data = b"model weights \x00\x01\x02" * 1000
        self.write("plain", data)
        self.seal("plain", "sealed", "--context", "tenant=acme", "--context", "purpose=test")
        sealed = self.read("sealed")
        self.assertNotIn(b"model weights", sealed)
        rc, _, err = run("open", *self.kr, "-o", self.path("out"), self.path("sealed"))
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.read("out"), data)
        # A new plaintext file is private to its owner.
        self.assertEqual(os.stat(self.path("out")).st_mode & 0o777, 0o600)
        hdr = self.peek("sealed")
        self.assertTrue(hdr["ok"])
        self.assertEqual(hdr["type"], "message")
        self.assertEqual(hdr["context"], {"tenant": "acme", "purpose": "test"})
        self.assertEqual(hdr["authenticated"], False)
        self.assertEqual([(r["kind"], r["key_id"], r["version"]) for r in hdr["recipients"]],
                         [("kek", "kek", 1)])

    def test_round_trip_pipes(self):
        data = os.urandom(200_000)
        rc, sealed, err = run("seal", *self.kr, "--to", "kek", input=data)
        self.assertEqual(rc, 0, err)
        self.assertGreater(len(sealed), len(data))
        rc, out, err = run("open", *self.kr, "-", input=sealed)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, data)
        # peek reads only the header from a pipe.
        rc, out, err = run("peek", input=sealed)
        self.assertEqual(rc, 0, err)
        self.assertIn("kek", out.decode())
        self.assertIn("authenticated: no", out.decode())

    def test_empty_input(self):
        rc, sealed, err = run("seal", *self.kr, "--to", "kek", input=b"")
        self.assertEqual(rc, 0, err)
        rc, out, err = run("open", *self.kr, input=sealed)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, b"")

    def test_multi_mib_small_chunks_threads(self):
        data = os.urandom(5 * 1024 * 1024 + 12345)
        self.write("big", data)
        self.seal("big", "big.aiose", "--chunk-size", "16K", "--threads", "2",
                  "--suite", "xchacha20poly1305")
        hdr = self.peek("big.aiose")
        self.assertEqual(hdr["chunk_size"], 16384)
        self.assertEqual(hdr["suite"], "xchacha20poly1305")
        rc, _, err = run("open", *self.kr, "--threads", "2", "-o", self.path("big.out"),
                         self.path("big.aiose"))
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.read("big.out"), data)

    def test_json_summary(self):
        self.write("p", b"hello")
        rc, out, err = run("seal", *self.kr, "--to", "kek", "--json", "-o", self.path("s"),
                           self.path("p"))
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertTrue(doc["ok"])
        self.assertEqual(doc["recipients"], 1)
        self.assertEqual(doc["bytes"], os.path.getsize(self.path("s")))
        self.assertEqual(doc["header"]["recipients"][0]["key_id"], "kek")
        rc, out, err = run("open", *self.kr, "--json", "-o", self.path("o"), self.path("s"))
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["bytes"], 5)

    def test_context_expect(self):
        self.write("p", b"secret")
        self.seal("p", "s", "--context", "tenant=acme", "--context", "env=prod")
        # exact (the default) with every entry: opens
        rc, out, err = run("open", *self.kr, "--expect", "tenant=acme", "--expect", "env=prod",
                           self.path("s"))
        self.assertEqual((rc, out), (0, b"secret"), err)
        # exact with a missing entry: refused
        rc, out, err = run("open", *self.kr, "--expect", "tenant=acme", "-o", self.path("o"),
                           self.path("s"))
        self.assertEqual(rc, 4, err)
        self.assertIn("AIOS_E_ENVELOPE_CONTEXT_MISMATCH", err)
        self.assert_no_leftovers("o")
        # exact with no --expect: the context must be empty
        rc, _, err = run("open", *self.kr, "--expect-mode", "exact", "-o", self.path("o"),
                         self.path("s"))
        self.assertEqual(rc, 4, err)
        self.assert_no_leftovers("o")
        # subset with the same entry: opens
        rc, out, err = run("open", *self.kr, "--expect", "tenant=acme", "--expect-mode",
                           "subset", self.path("s"))
        self.assertEqual((rc, out), (0, b"secret"), err)
        # a wrong value: refused, JSON error names the status
        rc, out, _ = run("open", *self.kr, "--json", "--expect", "tenant=evil", "--expect-mode",
                         "subset", "-o", self.path("o"), self.path("s"))
        self.assertEqual(rc, 4)
        doc = json.loads(out)
        self.assertFalse(doc["ok"])
        self.assertEqual(doc["error"]["status"], "AIOS_E_ENVELOPE_CONTEXT_MISMATCH")
        self.assertEqual(doc["error"]["kind"], "auth")
        self.assert_no_leftovers("o")

    def test_wrong_keyring_key(self):
        self.write("p", b"top secret")
        self.seal("p", "s")
        # Another keyring with a key of the same name but other material.
        other = self.path("other.aioskr")
        self.new_keyring(other)
        self.key("add", "kek", "--type", "aes256", ring=other)
        rc, out, err = run("open", "--keyring", other, *self.auth, "-o", self.path("o"),
                           self.path("s"))
        self.assertNotEqual(rc, 0)
        self.assertIn(rc, (4, 5), err)
        self.assertNotIn("top secret", err)
        self.assert_no_leftovers("o")
        # A keyring without the key: not found.
        empty = self.path("empty.aioskr")
        self.new_keyring(empty)
        rc, _, err = run("open", "--keyring", empty, *self.auth, "-o", self.path("o"),
                         self.path("s"))
        self.assertEqual(rc, 5, err)
        self.assert_no_leftovers("o")

    def test_existing_output_kept_on_failure(self):
        self.write("p", b"x" * 50000)
        self.seal("p", "s")
        sealed = bytearray(self.read("s"))
        sealed[-100] ^= 1
        self.write("bad", bytes(sealed))
        self.write("o", b"previous contents")
        rc, _, err = run("open", *self.kr, "-o", self.path("o"), self.path("bad"))
        self.assertEqual(rc, 4, err)
        self.assertEqual(self.read("o"), b"previous contents")
        self.assert_no_leftovers()

    def test_tampered(self):
        data = os.urandom(300_000)
        self.write("p", data)
        self.seal("p", "s", "--chunk-size", "4096")
        sealed = self.read("s")
        hlen = self.peek("s")["header_len"]
        for pos in (hlen + 5, len(sealed) // 2, len(sealed) - 1, 30):
            bad = bytearray(sealed)
            bad[pos] ^= 0x40
            self.write("bad", bytes(bad))
            rc, _, err = run("open", *self.kr, "-o", self.path("o"), self.path("bad"))
            self.assertNotEqual(rc, 0, f"byte {pos} changed yet opened")
            self.assertIn(rc, (3, 4), err)
            self.assert_no_leftovers("o")
        # Through a pipe the status is what tells: non-zero.
        bad = bytearray(sealed)
        bad[len(sealed) // 2] ^= 1
        rc, _, err = run("open", *self.kr, input=bytes(bad))
        self.assertEqual(rc, 4, err)

    def test_truncated(self):
        data = os.urandom(100_000)
        self.write("p", data)
        self.seal("p", "s", "--chunk-size", "4096")
        sealed = self.read("s")
        hlen = self.peek("s")["header_len"]
        cuts = {
            "at a chunk boundary": hlen + 2 * (4096 + 16),
            "inside a chunk": hlen + 3 * (4096 + 16) + 100,
            "the last byte": len(sealed) - 1,
            "inside the header": hlen - 3,
        }
        for what, n in cuts.items():
            self.write("cut", sealed[:n])
            rc, out, _ = run("open", *self.kr, "--json", "-o", self.path("o"), self.path("cut"))
            self.assertNotEqual(rc, 0, what)
            self.assertIn(rc, (3, 4), what)
            self.assertFalse(json.loads(out)["ok"])
            self.assert_no_leftovers("o")
        self.write("cut", sealed[: hlen + 2 * (4096 + 16)])
        rc, out, _ = run("open", *self.kr, "--json", "-o", self.path("o"), self.path("cut"))
        self.assertEqual(json.loads(out)["error"]["status"], "AIOS_E_ENVELOPE_TRUNCATED")
        # Trailing bytes are refused too.
        self.write("long", sealed + b"extra")
        rc, _, _ = run("open", *self.kr, "-o", self.path("o"), self.path("long"))
        self.assertNotEqual(rc, 0)
        self.assert_no_leftovers("o")

    def test_x25519_public_recipient(self):
        data = b"for the service only"
        # The producer holds no secret: no keyring at all.
        rc, sealed, err = run("seal", "--to-public", self.xk_pem, "--context", "k=v", input=data)
        self.assertEqual(rc, 0, err)
        self.write("s", sealed)
        hdr = self.peek("s")
        self.assertEqual(hdr["recipients"][0]["kind"], "x25519")
        # Every x25519 key of the keyring is tried by default ...
        rc, out, err = run("open", *self.kr, self.path("s"))
        self.assertEqual((rc, out), (0, data), err)
        # ... or the one named.
        rc, out, err = run("open", *self.kr, "--identity", "xk", self.path("s"))
        self.assertEqual((rc, out), (0, data), err)
        # Naming only the KEK leaves no key for the x25519 record.
        rc, _, err = run("open", *self.kr, "--identity", "kek", "-o", self.path("o"),
                         self.path("s"))
        self.assertEqual(rc, 5, err)
        self.assert_no_leftovers("o")

    def test_mixed_recipients(self):
        data = b"two ways in"
        rc, sealed, err = run("seal", *self.kr, "--to", "kek", "--to-public", self.xk_pem,
                              input=data)
        self.assertEqual(rc, 0, err)
        self.write("s", sealed)
        kinds = [r["kind"] for r in self.peek("s")["recipients"]]
        self.assertEqual(kinds, ["kek", "x25519"])
        rc, out, err = run("open", *self.kr, self.path("s"))
        self.assertEqual((rc, out), (0, data), err)

    def test_refuses_terminal(self):
        master, slave = pty.openpty()
        try:
            rc, _, err = run("seal", *self.kr, "--to", "kek", input=b"x", stdout=slave)
        finally:
            os.close(slave)
            os.close(master)
        self.assertNotEqual(rc, 0)
        self.assertIn("terminal", err)

    def test_usage_errors(self):
        self.write("p", b"x")
        cases = [
            ("seal", "-o", self.path("o"), self.path("p")),                    # no recipient
            ("seal", "--to", "kek", "-o", self.path("o"), self.path("p")),     # no keyring
            ("seal", *self.kr, "--to", "kek", "--json", self.path("p")),      # --json to stdout
            ("seal", *self.kr, "--to", "kek", "--chunk-size", "100", self.path("p")),
            ("seal", *self.kr, "--to", "kek", "--suite", "rot13", self.path("p")),
            ("seal", *self.kr, "--to", "kek", "--context", "novalue", self.path("p")),
            ("seal", *self.kr, "--to", "kek", "--expect", "a=b", self.path("p")),
            ("seal", *self.kr, "--to", "kek", self.path("p"), "extra"),
            ("open", self.path("p")),                                          # no keyring
            ("open", *self.kr, "--expect-mode", "fuzzy", self.path("p")),
            ("rewrap", *self.kr, self.path("p")),                              # nothing to do
            ("rewrap", *self.kr, "--to", "kek", "--in-place"),
            ("peek", "a", "b"),
            ("open", "--keyring", self.ring, "--passphrase-fd", "0"),     # stdin taken twice
        ]
        for argv in cases:
            rc, _, err = run(*argv)
            self.assertEqual(rc, 2, f"{argv}: {err}")
        self.assert_no_leftovers("o")

    def test_unknown_recipient_key(self):
        self.write("p", b"x")
        rc, _, err = run("seal", *self.kr, "--to", "nope", "-o", self.path("o"), self.path("p"))
        self.assertEqual(rc, 5, err)
        rc, _, err = run("seal", *self.kr, "--to", "kek@7", "-o", self.path("o"), self.path("p"))
        self.assertEqual(rc, 5, err)
        rc, _, err = run("seal", "--to-public", self.pw, "-o", self.path("o"), self.path("p"))
        self.assertNotEqual(rc, 0, err)
        self.assert_no_leftovers("o")

    def test_missing_input(self):
        rc, _, err = run("seal", *self.kr, "--to", "kek", "-o", self.path("o"),
                         self.path("does-not-exist"))
        self.assertEqual(rc, 7, err)
        self.assert_no_leftovers("o")

    def test_peek_garbage(self):
        self.write("junk", b"this is not an envelope at all, just text\n")
        rc, _, err = run("peek", self.path("junk"))
        self.assertEqual(rc, 3, err)
        rc, _, err = run("peek", input=b"")
        self.assertEqual(rc, 3, err)
        rc, _, err = run("open", *self.kr, self.path("junk"))
        self.assertEqual(rc, 3, err)

    def test_help(self):
        for verb in ("seal", "open", "peek", "rewrap", "fields"):
            for argv in (("help", verb), (verb, "--help"), (verb, "-h")):
                rc, out, _ = run(*argv)
                self.assertEqual(rc, 0, argv)
                self.assertTrue(out.decode().startswith(f"Usage: aios {verb}"), argv)
        rc, out, _ = run("open", "--help")
        self.assertIn("PROVISIONAL", out.decode())
        rc, out, _ = run("--help")
        for verb in ("seal", "open", "peek", "rewrap", "fields"):
            self.assertIn(verb, out.decode())


class Rewrap(EnvelopeBase):
    def test_rewrap_after_rotation(self):
        data = os.urandom(70_000)
        self.write("p", data)
        self.seal("p", "s", "--context", "tenant=acme")
        old = self.read("s")
        self.key("rotate", "kek")
        rc, out, err = run("rewrap", *self.kr, "--to", "kek", "--json", "-o", self.path("s2"),
                           self.path("s"))
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertTrue(doc["ok"])
        recips = doc["files"][0]["header"]["recipients"]
        self.assertEqual([(r["key_id"], r["version"]) for r in recips], [("kek", 2)])
        new = self.read("s2")
        # The payload is untouched: same message id, same tail bytes.
        self.assertEqual(self.peek("s2")["message_id"], self.peek("s")["message_id"])
        self.assertEqual(new[-1000:], old[-1000:])
        # Retire version 1: the rewrapped message still opens, the old one not.
        self.key("disable", "kek", "1")
        self.key("destroy", "kek", "1")
        rc, out, err = run("open", *self.kr, "--expect", "tenant=acme", self.path("s2"))
        self.assertEqual((rc, out), (0, data), err)
        rc, _, err = run("open", *self.kr, "-o", self.path("o"), self.path("s"))
        self.assertNotEqual(rc, 0)
        self.assert_no_leftovers("o")

    def test_in_place_several_files(self):
        datas = [os.urandom(n) for n in (0, 10, 100_000)]
        for i, d in enumerate(datas):
            self.write(f"p{i}", d)
            self.seal(f"p{i}", f"s{i}")
        os.chmod(self.path("s1"), 0o640)
        self.key("rotate", "kek")
        rc, _, err = run("rewrap", *self.kr, "--to", "kek", "--in-place",
                         *[self.path(f"s{i}") for i in range(3)])
        self.assertEqual(rc, 0, err)
        self.assertEqual(os.stat(self.path("s1")).st_mode & 0o777, 0o640)
        self.key("destroy", "kek", "1")
        for i, d in enumerate(datas):
            self.assertEqual(self.peek(f"s{i}")["recipients"][0]["version"], 2)
            rc, out, err = run("open", *self.kr, self.path(f"s{i}"))
            self.assertEqual((rc, out), (0, d), err)
        self.assert_no_leftovers()

    def test_add_and_remove_recipients(self):
        self.write("p", b"data")
        self.seal("p", "s")
        # Add the X25519 key (by its public PEM), then remove the KEK.
        rc, _, err = run("rewrap", *self.kr, "--to-public", self.xk_pem, "-o", self.path("s2"),
                         self.path("s"))
        self.assertEqual(rc, 0, err)
        self.assertEqual([r["kind"] for r in self.peek("s2")["recipients"]], ["kek", "x25519"])
        rc, _, err = run("rewrap", *self.kr, "--remove", "kek@1", "-o", self.path("s3"),
                         self.path("s2"))
        self.assertEqual(rc, 0, err)
        self.assertEqual([r["kind"] for r in self.peek("s3")["recipients"]], ["x25519"])
        rc, out, err = run("open", *self.kr, "--identity", "xk", self.path("s3"))
        self.assertEqual((rc, out), (0, b"data"), err)
        # Removing the last recipient is refused, and nothing is written.
        rc, _, err = run("rewrap", *self.kr, "--remove-public", self.xk_pem, "-o",
                         self.path("s4"), self.path("s3"))
        self.assertEqual(rc, 3, err)
        self.assert_no_leftovers("s4")

    def test_rewrap_session_file(self):
        session = self.path("s.aioss")
        rc, enc, err = run("fields", "encrypt", *self.kr, "--to", "kek", "--session", session,
                           "--pointer", "/name", input=b'{"id": 1, "name": "Ada"}')
        self.assertEqual(rc, 0, err)
        self.key("rotate", "kek")
        rc, _, err = run("rewrap", *self.kr, "--to", "kek", "--in-place", session)
        self.assertEqual(rc, 0, err)
        self.assertEqual([r["version"] for r in json.loads(run("peek", "--json", session)[1])
                          ["recipients"]], [2])
        self.key("destroy", "kek", "1")
        rc, dec, err = run("fields", "decrypt", *self.kr, "--session", session, input=enc)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(dec), {"id": 1, "name": "Ada"})

    def test_rewrap_tampered_header_refused(self):
        self.write("p", b"data")
        self.seal("p", "s", "--context", "a=b")
        bad = bytearray(self.read("s"))
        bad[self.peek("s")["header_len"] - 1] ^= 1        # the header tag
        self.write("bad", bytes(bad))
        self.write("bad.orig", bytes(bad))
        rc, _, err = run("rewrap", *self.kr, "--to", "kek", "--in-place", self.path("bad"))
        self.assertEqual(rc, 4, err)
        self.assertEqual(self.read("bad"), self.read("bad.orig"))
        self.assert_no_leftovers()


class Fields(EnvelopeBase):
    DOC = {"id": 17, "name": "Ada Lovelace", "ssn": "123-45-6789", "age": 36,
           "consent": True, "note": None, "address": {"city": "London", "zip": "W1"}}

    def encrypt(self, *args, input=None):
        return run("fields", "encrypt", *self.kr, *args, input=input)

    def test_round_trip(self):
        session = self.path("sess.aioss")
        rc, out, err = self.encrypt("--to", "kek", "--session", session, "--pointer", "/name",
                                    "--pointer", "/ssn", "--pointer", "/age",
                                    "--pointer", "/consent", "--pointer", "/address/city",
                                    "--record-id", "row-17",
                                    input=json.dumps(self.DOC).encode())
        self.assertEqual(rc, 0, err)
        enc = json.loads(out)
        for k in ("name", "ssn", "age", "consent"):
            self.assertTrue(enc[k].startswith("aios:f1:"), k)
        self.assertTrue(enc["address"]["city"].startswith("aios:f1:"))
        self.assertEqual(enc["id"], 17)
        self.assertEqual(enc["address"]["zip"], "W1")
        self.assertNotIn(b"Lovelace", out)
        # The session file holds a session header (no key in the clear).
        rc, peek, err = run("peek", "--json", session)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(peek)["type"], "session")
        # Decrypt with the same record id: the original document.
        self.write("enc.json", out)
        rc, dec, err = run("fields", "decrypt", *self.kr, "--session", session,
                           "--record-id", "row-17", "-o", self.path("dec.json"),
                           self.path("enc.json"))
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(self.read("dec.json")), self.DOC)
        self.assertEqual(os.stat(self.path("dec.json")).st_mode & 0o777, 0o600)
        # Another record id: the fields do not open, nothing is written.
        rc, _, err = run("fields", "decrypt", *self.kr, "--session", session,
                         "--record-id", "row-18", "-o", self.path("dec2.json"),
                         self.path("enc.json"))
        self.assertEqual(rc, 4, err)
        self.assert_no_leftovers("dec2.json")
        # A tampered field: refused.
        bad = dict(enc)
        s = bad["ssn"]
        bad["ssn"] = s[:20] + ("A" if s[20] != "A" else "B") + s[21:]
        rc, _, err = run("fields", "decrypt", *self.kr, "--session", session,
                         "--record-id", "row-17", input=json.dumps(bad).encode())
        self.assertIn(rc, (3, 4), err)

    def test_deterministic_equality_lines(self):
        docs = [{"id": 1, "email": "a@example.com", "v": 1},
                {"id": 2, "email": "b@example.com", "v": 2},
                {"id": 3, "email": "a@example.com", "v": 3}]
        lines = "".join(json.dumps(d) + "\n" for d in docs).encode()
        session = self.path("det.aioss")
        rc, out, err = self.encrypt("--to", "kek", "--session", session, "--deterministic",
                                    "--lines", "--pointer", "/email", input=lines)
        self.assertEqual(rc, 0, err)
        enc = [json.loads(line) for line in out.decode().splitlines()]
        self.assertEqual(len(enc), 3)
        self.assertEqual(enc[0]["email"], enc[2]["email"])
        self.assertNotEqual(enc[0]["email"], enc[1]["email"])
        self.assertTrue(json.loads(run("peek", "--json", session)[1])["deterministic"])
        rc, dec, err = run("fields", "decrypt", *self.kr, "--session", session, "--lines",
                           input=out)
        self.assertEqual(rc, 0, err)
        self.assertEqual([json.loads(line) for line in dec.decode().splitlines()], docs)

    def test_deterministic_session_file_reused_across_runs(self):
        session = self.path("det.aioss")
        outs = []
        for n in range(2):
            rc, out, err = self.encrypt("--to", "kek", "--session", session, "--deterministic",
                                        "--pointer", "/email", "--record-id", "r1",
                                        input=b'{"email": "a@example.com"}')
            self.assertEqual(rc, 0, f"run {n}: {err}")
            outs.append(json.loads(out)["email"])
        self.assertEqual(outs[0], outs[1])
        # Random-mode fields are sealed only by the run that made the session.
        rc, _, err = self.encrypt("--session", session, "--pointer", "/email",
                                  "-o", self.path("o.json"), input=b'{"email": "x"}')
        self.assertEqual(rc, 9, err)
        self.assertIn("--session", err)
        self.assert_no_leftovers("o.json")

    def test_random_mode_differs(self):
        docs = [{"email": "a@example.com"}, {"email": "a@example.com"}]
        lines = "".join(json.dumps(d) + "\n" for d in docs).encode()
        rc, out, err = self.encrypt("--to", "kek", "--session", self.path("r.aioss"), "--lines",
                                    "--pointer", "/email", input=lines)
        self.assertEqual(rc, 0, err)
        enc = [json.loads(line) for line in out.decode().splitlines()]
        self.assertNotEqual(enc[0]["email"], enc[1]["email"])

    def test_record_id_pointer(self):
        docs = [{"id": 1, "ssn": "111"}, {"id": "two", "ssn": "222"}]
        lines = "".join(json.dumps(d) + "\n" for d in docs).encode()
        session = self.path("rid.aioss")
        rc, out, err = self.encrypt("--to-public", self.xk_pem, "--session", session, "--lines",
                                    "--pointer", "/ssn", "--record-id-pointer", "/id",
                                    input=lines)
        self.assertEqual(rc, 0, err)
        enc = [json.loads(line) for line in out.decode().splitlines()]
        rc, dec, err = run("fields", "decrypt", *self.kr, "--session", session, "--lines",
                           "--record-id-pointer", "/id", input=out)
        self.assertEqual(rc, 0, err)
        self.assertEqual([json.loads(line) for line in dec.decode().splitlines()], docs)
        # Swap the encrypted fields between the documents: refused.
        enc[0]["ssn"], enc[1]["ssn"] = enc[1]["ssn"], enc[0]["ssn"]
        swapped = "".join(json.dumps(d) + "\n" for d in enc).encode()
        rc, _, err = run("fields", "decrypt", *self.kr, "--session", session, "--lines",
                         "--record-id-pointer", "/id", input=swapped)
        self.assertEqual(rc, 4, err)

    def test_missing_pointer_and_bad_input(self):
        session = self.path("m.aioss")
        rc, _, err = self.encrypt("--to", "kek", "--session", session, "--pointer", "/nope",
                                  input=b'{"a": 1}')
        self.assertEqual(rc, 5, err)
        self.assertIn("/nope", err)
        # A failed first run leaves no session file behind.
        self.assert_no_leftovers("m.aioss")
        rc, out, err = self.encrypt("--to", "kek", "--session", session, "--pointer", "/nope",
                                    "--pointer", "/a", "--skip-missing", input=b'{"a": 1}')
        self.assertEqual(rc, 0, err)
        self.assertTrue(json.loads(out)["a"].startswith("aios:f1:"))
        rc, _, err = self.encrypt("--to", "kek", "--session", self.path("n.aioss"),
                                  "--pointer", "/a", input=b'{"a": ')
        self.assertEqual(rc, 3, err)

    def test_usage_errors(self):
        rc, _, _ = self.encrypt("--to", "kek", "--pointer", "/a", input=b'{"a": 1}')
        self.assertEqual(rc, 2)
        rc, _, _ = self.encrypt("--session", self.path("none.aioss"), "--pointer", "/a",
                                input=b'{"a": 1}')
        self.assertEqual(rc, 2)      # a new session needs recipients
        rc, _, _ = run("fields", "decrypt", *self.kr, "--session", self.path("x"),
                       "--pointer", "/a", input=b"{}")
        self.assertEqual(rc, 2)


if __name__ == "__main__":
    unittest.main()
