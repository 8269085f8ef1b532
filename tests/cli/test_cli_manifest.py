"""The aios manifest verbs: sign, verify, digest, show (docs/CLI.md).

Driven as a script would drive them: real keyring files, secrets from
files, real model directories in a temporary folder, and the golden
bundles that released model_signing versions wrote (../shared/vectors/oms).
"""

import json
import os
import pty
import select
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

CLI = os.environ["AIOS_CLI"]
VECTORS = os.environ.get("AIOS_TEST_VECTORS",
                         os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared",
                                      "vectors"))
GOLDEN = os.path.join(VECTORS, "oms", "model-transparency")
CERTS = os.path.join(GOLDEN, "keys", "certificate")


def run(*args, input=None):
    p = subprocess.run([CLI, *args], input=input, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=300)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


class ManifestBase(unittest.TestCase):
    """A temporary directory with a keyring holding ECDSA P-256 and Ed25519
    signing keys, the P-256 public key as PEM, and a small model."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.d = self.tmp.name
        self.ring = self.path("ring.aioskr")
        self.pw = self.path("pass")
        with open(self.pw, "w") as f:
            f.write("correct horse battery\n")
        self.auth = ["--passphrase-file", self.pw]
        self.kr = ["--keyring", self.ring, *self.auth]
        rc, _, err = run("key", "create", self.ring, *self.auth, "--argon2-ops", "1",
                         "--argon2-mem", str(8 << 20))
        self.assertEqual(rc, 0, err)
        self.key("add", "signer", "--type", "ecdsa-p256")
        self.key("add", "other", "--type", "ecdsa-p256")
        self.pem = self.path("signer.pem")
        rc, out, err = run("key", "export-public", self.ring, "signer", *self.auth)
        self.assertEqual(rc, 0, err)
        with open(self.pem, "w") as f:
            f.write(out)
        self.model = self.path("model")
        self.write("model/config.json", b'{"layers": 2}\n')
        self.write("model/weights/part-1.bin", os.urandom(300_000))
        self.write("model/weights/part-2.bin", os.urandom(70_000))
        self.write("model/tokenizer.txt", b"a b c\n")

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.d, name)

    def key(self, action, *args):
        rc, out, err = run("key", action, self.ring, *args, *self.auth)
        self.assertEqual(rc, 0, f"key {action} {args}: {err}")
        return out

    def write(self, name, data):
        p = self.path(name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def sign(self, *extra, model=None, key="signer"):
        rc, out, err = run("manifest", "sign", model or self.model, *self.kr, "--key", key,
                           "--json", *extra)
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertTrue(doc["ok"])
        return doc

    def verify(self, *extra, model=None, trust=None):
        trust = trust if trust is not None else ["--public-key", self.pem]
        return run("manifest", "verify", model or self.model, *trust, *extra)

    def verify_json(self, *extra, model=None, trust=None):
        rc, out, err = self.verify("--json", *extra, model=model, trust=trust)
        return rc, json.loads(out), err

    def show(self, sig, *extra):
        rc, out, err = run("manifest", "show", sig, "--json", *extra)
        self.assertEqual(rc, 0, err)
        return json.loads(out)

    def digest(self, *extra, model=None):
        rc, out, err = run("manifest", "digest", model or self.model, *extra)
        self.assertEqual(rc, 0, err)
        return out.strip()

    def run_on_pty(self, *args):
        """Run with stderr on a terminal: (exit code, stdout, stderr)."""
        master, slave = pty.openpty()
        p = subprocess.Popen([CLI, *args], stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        chunks = []
        while True:
            r, _, _ = select.select([master], [], [], 60)
            if not r:
                break
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        os.close(master)
        out = p.stdout.read()
        p.stdout.close()
        return p.wait(timeout=60), out, b"".join(chunks).decode("utf-8", "replace")

    def assert_no_temporaries(self, folder):
        left = [n for n in os.listdir(folder) if n.startswith(".") and "model.sig" in n]
        self.assertEqual(left, [], "temporary signature files left behind")


class SignVerify(ManifestBase):
    def test_round_trip_public_pem(self):
        doc = self.sign()
        sig = os.path.join(self.model, "model.sig")
        self.assertEqual(doc["signature"], sig)
        self.assertEqual(doc["resources"], 4)
        self.assertEqual(doc["method"], "files")
        self.assertEqual(doc["subject"], "model")
        self.assertEqual(doc["signer"]["method"], "key")
        rc, out, err = self.verify()
        self.assertEqual(rc, 0, err)
        self.assertIn("verified", out)
        self.assertIn(doc["root_digest"], out)
        rc, v, err = self.verify_json()
        self.assertEqual(rc, 0, err)
        self.assertTrue(v["ok"])
        self.assertEqual(v["root_digest"], doc["root_digest"])
        # the same signer; trust says how each side knows it
        self.assertEqual(v["signer"].pop("trust"), "verified")
        self.assertEqual(doc["signer"].pop("trust"), "signed-here")
        self.assertEqual(v["signer"], doc["signer"])
        self.assertEqual(v["diff"], {"missing": [], "extra": [], "modified": [],
                                     "extra_empty": []})

    def test_round_trip_keyring_key(self):
        self.sign()
        rc, out, err = self.verify(trust=[*self.kr, "--key", "signer"])
        self.assertEqual(rc, 0, err)
        # Another key of the same keyring does not verify it: exit 4.
        rc, _, err = self.verify(trust=[*self.kr, "--key", "other"])
        self.assertEqual(rc, 4, err)
        self.assertIn("AIOS_E_MANIFEST_KEY_MISMATCH", err)

    def test_p521_key(self):
        """ECDSA P-521: `aios key add --type ecdsa-p521` and an imported
        OpenSSL key sign manifests that their public PEM verifies."""
        self.key("add", "p521", "--type", "ecdsa-p521")
        rc, out, err = run("key", "export-public", self.ring, "p521", *self.auth)
        self.assertEqual(rc, 0, err)
        pem = self.write("p521.pem", out.encode())
        doc = self.sign(key="p521")
        self.assertEqual(doc["signer"]["method"], "key")
        rc, _, err = self.verify(trust=["--public-key", pem])
        self.assertEqual(rc, 0, err)
        rc, _, err = self.verify()                  # the P-256 signer's PEM: refused
        self.assertEqual(rc, 4, err)
        vectors = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vectors", "key-p521")
        self.key("import", "p521-sec1", "--type", "ecdsa-p521",
                 "--file", os.path.join(vectors, "p521-sec1.pem"))
        self.sign(key="p521-sec1")
        rc, _, err = self.verify(trust=["--public-key", os.path.join(vectors, "p521-pub.pem")])
        self.assertEqual(rc, 0, err)
        self.write("model/config.json", b'{"layers": 3}\n')
        rc, _, err = self.verify(trust=["--public-key", os.path.join(vectors, "p521-pub.pem")])
        self.assertNotEqual(rc, 0, err)

    def test_output_elsewhere_and_single_file(self):
        sig = self.path("elsewhere.sig")
        self.sign("-o", sig)
        self.assertFalse(os.path.exists(os.path.join(self.model, "model.sig")))
        rc, _, err = self.verify("--signature", sig)
        self.assertEqual(rc, 0, err)
        # Outside the model, the signature is not in its ignore paths.
        self.assertNotIn("elsewhere.sig", self.show(sig)["ignore_paths"])
        # A one-file model: MODEL.sig by default.
        one = os.path.join(self.model, "config.json")
        self.sign(model=one)
        self.assertTrue(os.path.exists(one + ".sig"))
        rc, _, err = self.verify(model=one)
        self.assertEqual(rc, 0, err)

    def test_signature_to_stdout(self):
        rc, out, err = run("manifest", "sign", self.model, *self.kr, "--key", "signer",
                           "-o", "-")
        self.assertEqual(rc, 0, err)
        bundle = json.loads(out)
        self.assertIn("dsseEnvelope", bundle)
        self.assertFalse(os.path.exists(os.path.join(self.model, "model.sig")))
        sig = self.write("stdout.sig", out.encode())
        rc, _, err = self.verify("-s", sig)
        self.assertEqual(rc, 0, err)

    def test_shards(self):
        big = self.write("model/weights/big.bin", os.urandom(3 * 1024 * 1024 + 5))
        doc = self.sign("--method", "shards", "--shard-size", "1M", "--hash", "blake2b")
        self.assertEqual(doc["method"], "shards")
        self.assertEqual(doc["hash_type"], "blake2b")
        shown = self.show(doc["signature"], "--public-key", self.pem)
        self.assertTrue(shown["verified"])
        names = [r["name"] for r in shown["resources"]]
        self.assertIn("weights/big.bin:0:1048576", names)
        self.assertIn("weights/big.bin:3145728:3145733", names)
        rc, _, err = self.verify()
        self.assertEqual(rc, 0, err)
        # One byte in the third shard: modified, with the shard's offset.
        with open(big, "r+b") as f:
            f.seek(2 * 1024 * 1024 + 10)
            b = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([b[0] ^ 1]))
        rc, v, err = self.verify_json()
        self.assertEqual(rc, 4, err)
        self.assertEqual(v["diff"]["modified"],
                         [{"path": "weights/big.bin", "first_bad_offset": 2 * 1024 * 1024}])
        rc, out, err = self.verify()
        self.assertEqual(rc, 4)
        self.assertIn("weights/big.bin", out)
        self.assertIn(str(2 * 1024 * 1024), out)

    def test_shards_empty_file(self):
        self.write("model/empty", b"")
        self.sign("--method", "shards")
        rc, out, err = self.verify()
        self.assertEqual(rc, 0, err)
        self.assertIn("empty", err)      # the note: not covered by a shard manifest
        rc, v, err = self.verify_json("--strict-empty")
        self.assertEqual(rc, 4, err)
        self.assertEqual(v["diff"]["extra_empty"], ["empty"])

    def test_profile_oms(self):
        doc = self.sign("--profile", "oms-1.0")
        shown = self.show(doc["signature"], "--public-key", self.pem, "--profile", "oms-1.0")
        self.assertEqual(shown["profile"], "oms-1.0")
        rc, _, err = self.verify("--profile", "oms-1.0")
        self.assertEqual(rc, 0, err)

    def test_ignore_and_git(self):
        self.write("model/.git/HEAD", b"ref: refs/heads/main\n")
        self.write("model/scratch/tmp.txt", b"scratch\n")
        doc = self.sign("--ignore", "scratch")
        names = [r["name"] for r in self.show(doc["signature"])["resources"]]
        self.assertNotIn("scratch/tmp.txt", names)
        self.assertFalse(any(n.startswith(".git") for n in names))
        # The ignored folder may change: it is in the signed ignore paths.
        self.write("model/scratch/tmp.txt", b"changed\n")
        rc, _, err = self.verify()
        self.assertEqual(rc, 0, err)
        doc = self.sign("--include-git", "--ignore", "scratch")
        names = [r["name"] for r in self.show(doc["signature"])["resources"]]
        self.assertIn(".git/HEAD", names)

    def test_include_git_verify(self):
        self.write("model/.git/HEAD", b"ref: refs/heads/main\n")
        self.write("model/.gitattributes", b"*.bin filter=lfs\n")
        doc = self.sign("--include-git")
        # The signature does not record --include-git: verify needs it too.
        rc, out, err = self.verify("--include-git")
        self.assertEqual(rc, 0, err)
        self.assertIn(doc["root_digest"], out)
        rc, v, err = self.verify_json("--include-git")
        self.assertEqual(rc, 0, err)
        self.assertEqual(v["diff"]["missing"], [])
        # Without it the git files are left out of the walk: reported missing.
        rc, out, err = self.verify()
        self.assertEqual(rc, 4, err)
        self.assertRegex(out, r"missing\s+\.git/HEAD")
        self.assertRegex(out, r"missing\s+\.gitattributes")
        rc, v, err = self.verify_json()
        self.assertEqual(rc, 4, err)
        self.assertEqual(sorted(v["diff"]["missing"]), [".git/HEAD", ".gitattributes"])
        # digest matches the signature given the same --include-git (and --ignore).
        self.assertEqual(self.digest("--include-git"), doc["root_digest"])
        self.assertNotEqual(self.digest(), doc["root_digest"])
        # --ignore works on verify the same way: an unsigned folder left out.
        self.write("model/scratch/tmp.txt", b"scratch\n")
        rc, out, err = self.verify("--include-git")
        self.assertEqual(rc, 4, err)
        self.assertRegex(out, r"extra\s+scratch/tmp\.txt")
        rc, _, err = self.verify("--include-git", "--ignore", "scratch")
        self.assertEqual(rc, 0, err)
        doc2 = self.sign("--include-git", "--ignore", "scratch")
        self.assertEqual(doc2["root_digest"], doc["root_digest"])
        self.assertEqual(self.digest("--include-git", "--ignore", "scratch"),
                         doc["root_digest"])


class Tamper(ManifestBase):
    def setUp(self):
        super().setUp()
        self.signed = self.sign()

    def check(self, kind, name):
        rc, out, err = self.verify()
        self.assertEqual(rc, 4, err)
        self.assertIn("AIOS_E_MANIFEST_MISMATCH", err)
        self.assertRegex(out, rf"{kind}\s+{name}")
        rc, v, err = self.verify_json()
        self.assertEqual(rc, 4, err)
        self.assertFalse(v["ok"])
        self.assertEqual(v["error"]["status"], "AIOS_E_MANIFEST_MISMATCH")
        self.assertEqual(v["error"]["kind"], "auth")
        self.assertEqual(v["root_digest"], self.signed["root_digest"])
        return v["diff"]

    def test_modified(self):
        self.write("model/config.json", b'{"layers": 3}\n')
        diff = self.check("modified", "config.json")
        self.assertEqual(diff["modified"], [{"path": "config.json", "first_bad_offset": 0}])
        self.assertEqual((diff["missing"], diff["extra"]), ([], []))

    def test_added(self):
        self.write("model/weights/part-3.bin", b"injected")
        diff = self.check("extra", "weights/part-3.bin")
        self.assertEqual(diff["extra"], ["weights/part-3.bin"])
        # --ignore-unsigned: files the manifest does not name are not reported.
        rc, _, err = self.verify("--ignore-unsigned")
        self.assertEqual(rc, 0, err)

    def test_removed(self):
        os.unlink(self.path("model/tokenizer.txt"))
        diff = self.check("missing", "tokenizer.txt")
        self.assertEqual(diff["missing"], ["tokenizer.txt"])

    def test_several(self):
        self.write("model/config.json", b"{}")
        self.write("model/new.txt", b"x")
        os.unlink(self.path("model/weights/part-2.bin"))
        rc, v, err = self.verify_json()
        self.assertEqual(rc, 4, err)
        self.assertEqual(v["diff"]["missing"], ["weights/part-2.bin"])
        self.assertEqual(v["diff"]["extra"], ["new.txt"])
        self.assertEqual([m["path"] for m in v["diff"]["modified"]], ["config.json"])

    def test_tampered_signature(self):
        sig = self.signed["signature"]
        with open(sig) as f:
            bundle = json.load(f)
        import base64
        payload = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
        payload["subject"][0]["name"] = "evil"
        bundle["dsseEnvelope"]["payload"] = base64.b64encode(
            json.dumps(payload).encode()).decode()
        with open(sig, "w") as f:
            json.dump(bundle, f)
        rc, _, err = self.verify()
        self.assertEqual(rc, 4, err)
        self.assertIn("AIOS_E_AUTH", err)
        # A signature that is not a bundle at all: exit 3.
        with open(sig, "w") as f:
            f.write("not json")
        rc, _, err = self.verify()
        self.assertEqual(rc, 3, err)


class HostileNames(ManifestBase):
    """File names are the model's to choose: printed for a person, their
    control characters are escaped (a name cannot forge a line of the diff
    or reach the terminal as an escape sequence); --json keeps them exact."""

    FORGED = "evil\n  modified     config.json"
    ESC = "esc\x1b]0;pwned\x07\x1b[31m.bin"
    C1 = "c1\u0085\u009bx.bin"
    BIDI = "bidi\u202etxt.exe"

    def test_diff_text_escapes_names(self):
        self.sign()
        for name in (self.FORGED, self.ESC, self.C1, self.BIDI):
            self.write(os.path.join("model", name), b"x")
        rc, out, err = self.verify()
        self.assertEqual(rc, 4, err)
        lines = out.splitlines()
        self.assertEqual(lines[0].split(":")[-1].strip(), "4 differences")
        self.assertEqual(len(lines), 5, out)                 # header + 4, none forged
        self.assertNotIn("\x1b", out)
        self.assertNotIn("\x07", out)
        self.assertNotIn("\u0085", out)
        self.assertNotIn("\u009b", out)
        self.assertNotIn("\u202e", out)
        self.assertIn("  extra        evil\\n  modified     config.json\n", out)
        self.assertIn("  extra        esc\\x1b]0;pwned\\x07\\x1b[31m.bin\n", out)
        self.assertIn("  extra        c1\\u0085\\u009bx.bin\n", out)
        self.assertIn("  extra        bidi\\u202etxt.exe\n", out)
        self.assertNotRegex(out, r"(?m)^\s+modified")
        # --json: the exact names, JSON-escaped
        rc, v, err = self.verify_json()
        self.assertEqual(rc, 4, err)
        self.assertEqual(sorted(v["diff"]["extra"]),
                         sorted([self.FORGED, self.ESC, self.C1, self.BIDI]))
        self.assertEqual(v["diff"]["modified"], [])

    def test_error_message_escapes_names(self):
        os.symlink("config.json", os.path.join(self.model, "l\n\x1b[2Jx"))
        rc, out, err = run("manifest", "sign", self.model, *self.kr, "--key", "signer")
        self.assertEqual(rc, 3, err)
        self.assertIn("AIOS_E_MANIFEST_SYMLINK", err)
        self.assertIn("l\\n\\x1b[2Jx", err)
        self.assertNotIn("\x1b", err)
        self.assertEqual(len(err.splitlines()), 1, err)
        rc, out, _ = run("manifest", "sign", self.model, *self.kr, "--key", "signer", "--json")
        self.assertEqual(rc, 3)
        self.assertIn("l\n\x1b[2Jx", json.loads(out)["error"]["message"])

    def test_bytes_that_are_not_utf8(self):
        # A model path that is not UTF-8: \xNN in text, and still JSON.
        bad = self.path("no-such-\udcff-model")        # b"...\xff..." on disk
        rc, _, err = run("manifest", "verify", bad, "--public-key", self.pem)
        self.assertEqual(rc, 5, err)
        self.assertIn("no-such-\\xff-model", err)
        rc, out, _ = run("manifest", "verify", bad, "--public-key", self.pem, "--json")
        self.assertEqual(rc, 5)
        doc = json.loads(out)
        self.assertEqual(doc["error"]["status"], "AIOS_E_NOT_FOUND")
        self.assertIn("no-such-\\xff-model", doc["error"]["message"])

    def test_progress_bar_escapes_names(self):
        os.mkdir(self.path("solo"))
        self.write(os.path.join("solo", "e\x1b]0;p\x07\x1b[31m.bin"), os.urandom(4 << 20))
        rc, _, raw = self.run_on_pty("manifest", "sign", self.path("solo"), *self.kr,
                                         "--key", "signer", "--threads", "1")
        self.assertEqual(rc, 0, raw)
        self.assertIn("100%", raw)
        self.assertIn("e\\x1b]0;p\\x07\\x1b[31m.bin", raw)
        self.assertNotIn("\x1b]", raw)
        self.assertNotIn("\x07", raw)
        self.assertNotIn("\x1b[31m", raw)


class DigestShow(ManifestBase):
    def test_digest_stable_and_equal_to_show(self):
        d1 = self.digest()
        self.assertRegex(d1, r"^[0-9a-f]{64}$")
        self.assertEqual(self.digest("--threads", "1"), d1)
        doc = self.sign()
        self.assertEqual(doc["root_digest"], d1)
        # The signature now inside the model is left out, as sign left it out.
        self.assertEqual(self.digest(), d1)
        shown = self.show(doc["signature"])
        self.assertEqual(shown["root_digest"], d1)
        self.assertFalse(shown["verified"])
        self.assertTrue(self.show(doc["signature"], "--public-key", self.pem)["verified"])
        # Content changes the digest; --json lists the resources.
        self.write("model/config.json", b"{}")
        self.assertNotEqual(self.digest(), d1)
        rc, out, err = run("manifest", "digest", self.model, "--json")
        self.assertEqual(rc, 0, err)
        j = json.loads(out)
        self.assertEqual(j["root_digest"], self.digest())
        self.assertEqual(len(j["resources"]), 4)
        # Method and profile take part, as for sign.
        self.assertNotEqual(self.digest("--method", "shards", "--hash", "blake2b"),
                            self.digest())

    def test_json_command_member(self):
        doc = self.sign()
        self.assertEqual(doc["command"], "manifest sign")
        shown = self.show(doc["signature"])
        self.assertEqual((shown["ok"], shown["command"]), (True, "manifest show"))
        self.assertEqual(list(shown)[:2], ["ok", "command"])
        self.assertFalse(shown["verified"])
        shown = self.show(doc["signature"], "--public-key", self.pem)
        self.assertEqual(shown["command"], "manifest show")
        self.assertTrue(shown["verified"])
        rc, out, err = run("manifest", "digest", self.model, "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["command"], "manifest digest")
        rc, v, err = self.verify_json()
        self.assertEqual(rc, 0, err)
        self.assertEqual(v["command"], "manifest verify")
        # show without --json prints the library's document alone
        rc, out, err = run("manifest", "show", doc["signature"], "--public-key", self.pem)
        self.assertEqual(rc, 0, err)
        self.assertNotIn("command", json.loads(out))

    def test_show_text_warns_unverified(self):
        doc = self.sign()
        rc, out, err = run("manifest", "show", doc["signature"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["root_digest"], doc["root_digest"])
        self.assertIn("NOT verified", err)
        rc, _, err = run("manifest", "show", doc["signature"], "--public-key", self.pem,
                         "--profile", "model-signing-1")
        self.assertEqual(rc, 0, err)
        self.assertNotIn("NOT verified", err)
        # Wrong trust: the signature is refused.
        rc, _, err = run("manifest", "show", doc["signature"], *self.kr, "--key", "other")
        self.assertEqual(rc, 4, err)

    def test_provenance_round_trip(self):
        doc = self.sign("--set", "model=llama", "--set", "version=1.2.0",
                        "--set", "approver=alice", "--set", "approved_at=2026-11-26T12:00:00Z",
                        "--set", "dataset=s3://a", "--set", "dataset=s3://b",
                        "--set", "label.team=ml", "--set", "label.stage=prod")
        prov = self.show(doc["signature"], "--public-key", self.pem)["provenance"]
        self.assertEqual(prov, {"v": 1, "model": "llama", "version": "1.2.0",
                                "approver": "alice", "approved_at": "2026-11-26T12:00:00Z",
                                "datasets": ["s3://a", "s3://b"],
                                "labels": {"team": "ml", "stage": "prod"}})
        pf = self.write("prov.json", json.dumps(
            {"v": 1, "model": "m", "custom": {"kept": True}}).encode())
        doc = self.sign("--provenance", pf)
        prov = self.show(doc["signature"], "--public-key", self.pem)["provenance"]
        self.assertEqual(prov, {"v": 1, "model": "m", "custom": {"kept": True}})
        rc, _, err = self.verify()
        self.assertEqual(rc, 0, err)
        # Not an object: refused before signing.
        pf = self.write("bad.json", b"[1, 2]")
        rc, _, err = run("manifest", "sign", self.model, *self.kr, "--key", "signer",
                         "--provenance", pf)
        self.assertEqual(rc, 3, err)

    def test_cache_resign(self):
        cache = self.path("stat.cache")
        first = self.sign("--cache", cache)
        self.assertTrue(os.path.exists(cache))
        again = self.sign("--cache", cache)
        self.assertEqual(again["root_digest"], first["root_digest"])
        # A changed file is hashed again, the others come from the cache.
        time.sleep(0.01)
        self.write("model/weights/part-2.bin", os.urandom(70_000))
        third = self.sign("--cache", cache)
        self.assertNotEqual(third["root_digest"], first["root_digest"])
        self.assertEqual(third["root_digest"], self.digest())
        rc, _, err = self.verify()
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.digest("--cache", cache), third["root_digest"])


class Certificates(ManifestBase):
    """The certificate method, against the golden bundles of model_signing."""

    def setUp(self):
        super().setUp()
        self.assertTrue(os.path.isdir(GOLDEN), f"the golden vectors are missing: {GOLDEN}")
        self.ca = os.path.join(CERTS, "ca-cert.pem")

    def test_golden_certificate_bundles(self):
        for version in ("v0.2.0", "v0.3.1", "v1.0.0", "v1.1.0"):
            model = os.path.join(GOLDEN, f"{version}-certificate")
            rc, out, err = self.verify(model=model, trust=["--trust-anchor", self.ca])
            self.assertEqual(rc, 0, f"{version}: {err}")
            self.assertIn("signer: certificate", out)
        # v1.0.1 did not sign its ignore paths: ignore-me is extra unless ignored.
        model = os.path.join(GOLDEN, "v1.0.1-certificate")
        rc, v, err = self.verify_json(model=model, trust=["--trust-anchor", self.ca])
        self.assertEqual(rc, 4, err)
        self.assertEqual(v["diff"]["extra"], ["ignore-me"])
        rc, _, err = self.verify("--ignore", "ignore-me", model=model,
                                 trust=["--trust-anchor", self.ca])
        self.assertEqual(rc, 0, err)
        sig = os.path.join(GOLDEN, "v1.1.0-certificate", "model.sig")
        shown = self.show(sig, "--trust-anchor", self.ca, "--time", "now")
        self.assertTrue(shown["verified"])
        self.assertEqual(shown["signer"]["method"], "certificate")
        self.assertEqual(shown["root_digest"],
                         "61d4849d9d90076d6215f4d525f13d6574af8e3f67aef3e6f36fc40a14fdd226")

    def test_golden_wrong_anchor_and_time(self):
        model = os.path.join(GOLDEN, "v1.1.0-certificate")
        rc, _, err = self.verify(model=model, trust=["--trust-anchor", self.pem])
        self.assertEqual(rc, 3, err)     # a public key is not a certificate
        # A CA that did not issue the chain (or a damaged copy of the right one).
        with open(os.path.join(CERTS, "ca-cert.pem"), "rb") as f:
            other_ca = self.write("other-ca.pem", f.read().replace(b"MII", b"MIJ", 1))
        rc, _, err = self.verify(model=model, trust=["--trust-anchor", other_ca])
        self.assertNotEqual(rc, 0, err)
        # Before the leaf existed: the chain is not valid then.
        rc, _, err = self.verify("--time", "1000000000", model=model,
                                 trust=["--trust-anchor", self.ca])
        self.assertEqual(rc, 4, err)
        self.assertIn("AIOS_E_MANIFEST_CHAIN", err)
        # The key method cannot verify a certificate bundle.
        rc, _, err = self.verify(model=model, trust=["--public-key", self.pem])
        self.assertEqual(rc, 3, err)
        self.assertIn("AIOS_E_MANIFEST_METHOD", err)

    def test_golden_key_bundle(self):
        # certtool's text before the PEM block is skipped.
        rc, out, err = self.verify(model=os.path.join(GOLDEN, "v1.1.0-elliptic-key"),
                                   trust=["--public-key",
                                          os.path.join(CERTS, "signing-key-pub.pem")])
        self.assertEqual(rc, 0, err)

    def test_golden_tampered_copy(self):
        model = self.path("copy")
        shutil.copytree(os.path.join(GOLDEN, "v1.1.0-certificate"), model)
        os.chmod(os.path.join(model, "signme-1"), 0o644)
        with open(os.path.join(model, "signme-1"), "ab") as f:
            f.write(b"!")
        rc, out, err = self.verify(model=model, trust=["--trust-anchor", self.ca])
        self.assertEqual(rc, 4, err)
        self.assertRegex(out, r"modified\s+signme-1")

    def test_sign_with_chain(self):
        with open(os.path.join(CERTS, "signing-key.pem"), "rb") as f:
            text = f.read()
        start = text.index(b"-----BEGIN EC PRIVATE KEY-----")
        pk = self.write("golden-key.pem", text[start:])
        self.key("import", "golden", "--type", "ecdsa-p384", "--file", pk)
        doc = self.sign("--cert-chain", os.path.join(CERTS, "signing-key-cert.pem"),
                        "--cert-chain", os.path.join(CERTS, "int-ca-cert.pem"), key="golden")
        self.assertEqual(doc["signer"]["method"], "certificate")
        rc, _, err = self.verify(trust=["--trust-anchor", self.ca])
        self.assertEqual(rc, 0, err)
        # The certificate does not hold this key: refused, nothing written.
        os.unlink(doc["signature"])
        rc, _, err = run("manifest", "sign", self.model, *self.kr, "--key", "signer",
                         "--cert-chain", os.path.join(CERTS, "signing-key-cert.pem"))
        self.assertEqual(rc, 4, err)
        self.assertIn("AIOS_E_MANIFEST_KEY_MISMATCH", err)
        self.assertFalse(os.path.exists(doc["signature"]))


def _der(tag, body):
    n = len(body)
    if n < 0x80:
        head = bytes([n])
    else:
        ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([0x80 | len(ln)]) + ln
    return bytes([tag]) + head + body


def _sec1_to_pkcs8_p384(pem_text):
    """PKCS#8 PEM of a SEC1 "EC PRIVATE KEY" on P-384 (softhsm2-util reads PKCS#8)."""
    import base64
    body = pem_text.split("-----BEGIN EC PRIVATE KEY-----")[1].split("-----END")[0]
    sec1 = base64.b64decode("".join(body.split()))
    alg = _der(0x30, bytes.fromhex("06072a8648ce3d0201") + bytes.fromhex("06052b81040022"))
    p8 = _der(0x30, bytes.fromhex("020100") + alg + _der(0x04, sec1))
    b64 = base64.b64encode(p8).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END PRIVATE KEY-----\n"


SOFTHSM_MODULES = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
]


class Pkcs11(ManifestBase):
    """Signing inside a SoftHSM2 token (scripts/install-deps installs it),
    with the golden P-384 signing key moved into it."""

    def setUp(self):
        super().setUp()
        self.module = next((p for p in SOFTHSM_MODULES if os.path.isfile(p)), None)
        util = shutil.which("softhsm2-util")
        self.assertTrue(self.module and util, "SoftHSM2 is not installed (Debian softhsm2)")
        os.mkdir(self.path("tokens"))
        conf = self.write("softhsm2.conf", (
            f"directories.tokendir = {self.path('tokens')}\nobjectstore.backend = file\n"
            "log.level = ERROR\nslots.removable = false\n").encode())
        self.env = dict(os.environ, SOFTHSM2_CONF=conf)
        with open(os.path.join(CERTS, "signing-key.pem")) as f:
            key = self.write("p8.pem", _sec1_to_pkcs8_p384(f.read()).encode())
        for args in (["--init-token", "--free", "--label", "clitest", "--so-pin", "5678",
                      "--pin", "1234"],
                     ["--import", key, "--token", "clitest", "--label", "signer", "--id", "02",
                      "--pin", "1234"]):
            p = subprocess.run([util, *args], env=self.env, capture_output=True, text=True,
                               timeout=120)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        os.unlink(key)
        self.pin = self.write("pin", b"1234\n")

    def run_env(self, *args):
        p = subprocess.run([CLI, *args], env=self.env, capture_output=True, text=True,
                           timeout=300)
        return p.returncode, p.stdout, p.stderr

    def test_sign_in_token_verify_with_public_pem(self):
        uri = "pkcs11:token=clitest;object=signer"
        rc, out, err = self.run_env("manifest", "sign", self.model, "--key", uri,
                                    "--pkcs11-module", self.module, "--pin-file", self.pin,
                                    "--json")
        self.assertEqual(rc, 0, err)
        self.assertTrue(json.loads(out)["ok"])
        rc, _, err = self.verify(trust=["--public-key",
                                        os.path.join(CERTS, "signing-key-pub.pem")])
        self.assertEqual(rc, 0, err)
        # The token's key verifies too (its public part), module and PIN in the URI.
        rc, _, err = self.run_env("manifest", "verify", self.model, "--key",
                                  f"{uri}?module-path={self.module}&pin-value=1234")
        self.assertEqual(rc, 0, err)
        # A label the token does not hold.
        rc, _, err = self.run_env("manifest", "sign", self.model, "--key",
                                  "pkcs11:token=clitest;object=nope", "--pkcs11-module",
                                  self.module, "--pin-file", self.pin, "-o", self.path("x.sig"))
        self.assertEqual(rc, 5, err)
        self.assertFalse(os.path.exists(self.path("x.sig")))
        # No object= in the URI: a usage error.
        rc, _, err = self.run_env("manifest", "sign", self.model, "--key",
                                  "pkcs11:token=clitest", "--pkcs11-module", self.module)
        self.assertEqual(rc, 2, err)


class Errors(ManifestBase):
    def test_usage_errors(self):
        m = self.model
        cases = [
            ("manifest",),                                               # no action
            ("manifest", "frobnicate", m),
            ("manifest", "sign", m, *self.kr),                            # no key
            ("manifest", "sign", m, "--key", "signer"),                   # no keyring
            ("manifest", "sign", m, *self.kr, "--key", "signer", "--method", "trees"),
            ("manifest", "sign", m, *self.kr, "--key", "signer", "--hash", "md5"),
            ("manifest", "sign", m, *self.kr, "--key", "signer", "--shard-size", "1M"),
            ("manifest", "sign", m, *self.kr, "--key", "signer", "--method", "shards",
             "--shard-size", "10"),
            ("manifest", "sign", m, *self.kr, "--key", "signer", "--profile", "oms-2"),
            ("manifest", "sign", m, *self.kr, "--key", "signer", "--threads", "0"),
            ("manifest", "sign", m, *self.kr, "--key", "signer", "--set", "colour=red"),
            ("manifest", "sign", m, *self.kr, "--key", "signer", "--set", "noequals"),
            ("manifest", "sign", m, *self.kr, "--key", "signer", "--json", "-o", "-"),
            ("manifest", "sign", m, "extra", *self.kr, "--key", "signer"),
            ("manifest", "sign", *self.kr, "--key", "signer"),           # no model
            ("manifest", "verify", m),                                    # no trust
            ("manifest", "verify", m, "--public-key", self.pem, *self.kr, "--key", "signer"),
            ("manifest", "verify", m, "--public-key", self.pem, "--time", "now"),
            ("manifest", "verify", m, "--trust-anchor", self.pem, "--time", "yesterday"),
            ("manifest", "digest", m, "--key", "signer"),
            ("manifest", "digest"),
            ("manifest", "show"),
            ("manifest", "sign", m, "--key", "pkcs11:token=t", "--keyring", self.ring),
        ]
        for argv in cases:
            rc, out, err = run(*argv)
            self.assertEqual(rc, 2, f"{argv}: {err}")
            self.assertTrue((err or out).strip(), f"{argv}: no message")
        rc, out, err = run("manifest", "sign", m, *self.kr, "--method", "trees")
        self.assertIn("--method is files or shards", err)
        rc, out, err = run("manifest", "sign", m, *self.kr)
        self.assertIn("no signing key", err)
        rc, out, err = run("manifest", "digest", m, "--key", "x")
        self.assertIn("'--key' does not apply", err)
        # --json errors are JSON on stdout
        rc, out, _ = run("manifest", "sign", m, *self.kr, "--json", "--method", "trees")
        self.assertEqual(rc, 2)
        doc = json.loads(out)
        self.assertEqual(doc, {"ok": False, "command": "manifest sign", "error": {
            "status": "usage", "code": None, "kind": "usage",
            "message": "--method is files or shards"}})
        # the members of every error object (docs/CLI.md, Errors)
        rc, out, _ = run("manifest", "verify", self.path("none"), "--public-key", self.pem,
                         "--json")
        self.assertEqual(rc, 5)
        lib = json.loads(out)
        self.assertEqual(list(lib), list(doc))
        self.assertEqual(list(lib["error"]), list(doc["error"]))
        self.assertEqual((lib["error"]["kind"], lib["command"]), ("not_found", "manifest verify"))
        for argv in (("manifest", "--json", "frobnicate"),
                     ("manifest", "show", "--json", "--bogus")):
            rc, out, _ = run(*argv)
            self.assertEqual(rc, 2, argv)
            e = json.loads(out)["error"]
            self.assertEqual((e["status"], e["code"], e["kind"]), ("usage", None, "usage"))
        self.assertFalse(os.path.exists(os.path.join(m, "model.sig")))

    def test_not_found(self):
        missing = self.path("no-such-model")
        rc, _, err = run("manifest", "sign", missing, *self.kr, "--key", "signer")
        self.assertEqual(rc, 5, err)
        self.assertIn("no-such-model", err)
        rc, _, err = run("manifest", "digest", missing)
        self.assertEqual(rc, 5, err)
        rc, _, err = self.verify(model=missing)
        self.assertEqual(rc, 5, err)
        rc, _, err = self.verify("-s", self.path("no.sig"))         # no signature
        self.assertEqual(rc, 5, err)
        rc, _, err = run("manifest", "sign", self.model, *self.kr, "--key", "nope")
        self.assertEqual(rc, 5, err)
        rc, _, err = self.verify(trust=["--public-key", self.path("none.pem")])
        self.assertEqual(rc, 5, err)
        empty = self.path("empty-model")
        os.mkdir(empty)
        rc, _, err = run("manifest", "sign", empty, *self.kr, "--key", "signer")
        self.assertEqual(rc, 3, err)
        self.assertIn("AIOS_E_MANIFEST_EMPTY", err)

    def test_symlink_refused(self):
        os.symlink("config.json", os.path.join(self.model, "link.json"))
        rc, _, err = run("manifest", "sign", self.model, *self.kr, "--key", "signer")
        self.assertEqual(rc, 3, err)
        self.assertIn("AIOS_E_MANIFEST_SYMLINK", err)
        self.sign("--allow-symlinks")
        rc, _, err = self.verify()
        self.assertEqual(rc, 0, err)

    def test_help(self):
        for action in ("sign", "verify", "digest", "show"):
            for argv in (("manifest", action, "--help"), ("manifest", action, "-h")):
                rc, out, _ = run(*argv)
                self.assertEqual(rc, 0, argv)
                self.assertTrue(out.startswith(f"Usage: aios manifest {action}"), argv)
        rc, out, _ = run("help", "manifest")
        self.assertEqual(rc, 0)
        self.assertIn("sign", out)
        # The help says what the code does (and docs/CLI.md).
        rc, out, _ = run("manifest", "--help")
        self.assertEqual(rc, 0)
        verify = out[out.index("  verify "):out.index("  digest ")]
        for opt in ("--public-key", "--key", "--trust-anchor", "--sigstore-root",
                    "--identity", "--oidc-issuer"):
            self.assertIn(opt, verify)
        codes = out[out.index("Exit status:"):]
        for code in range(12):
            self.assertRegex(codes, rf"(?m)^  {code} +\S", f"exit code {code}")
        self.assertRegex(codes, r"(?m)^  8 +a limit exceeded")
        self.assertRegex(codes, r"(?m)^  9 +not allowed in the current state")
        for action in ("sign", "digest"):
            rc, out, _ = run("manifest", action, "--help")
            self.assertIn("suffix K, M or G", out)
        rc, out, _ = run("manifest", "verify", "--help")
        self.assertIn("--include-git", out)
        self.assertIn("--ignore PATH", out)
        rc, out, _ = run("manifest", "show", "--help")
        self.assertIn("--sigstore-root", out)
        # G is accepted, as the help says: 2^30 bytes (2^40 = 1024G is the most).
        sh = ("--method", "shards", "--shard-size")
        self.assertEqual(self.digest(*sh, "1G"), self.digest(*sh, str(1 << 30)))
        self.digest(*sh, "1024G")
        rc, _, err = run("manifest", "digest", self.model, *sh, "1025G")
        self.assertEqual(rc, 2, err)
        rc, out, _ = run("--help")
        self.assertIn("manifest", out)


class Terminal(ManifestBase):
    """Progress on a terminal, and Ctrl-C."""

    def test_progress_bar_on_terminal_only(self):
        self.write("model/weights/big.bin", os.urandom(8 << 20))
        rc, _, err = self.run_on_pty("manifest", "sign", self.model, *self.kr, "--key",
                                     "signer", "--threads", "2")
        self.assertEqual(rc, 0, err)
        self.assertIn("100%", err)
        self.assertIn("/s", err)
        rc, _, err = self.run_on_pty("manifest", "verify", self.model, "--public-key", self.pem,
                                     "--quiet")
        self.assertEqual(rc, 0, err)
        self.assertNotIn("%", err)
        # Not a terminal: no bar.
        rc, _, err = self.verify()
        self.assertEqual(rc, 0, err)
        self.assertNotIn("%", err)

    def test_ctrl_c_leaves_no_signature(self):
        big = self.path("big")
        os.mkdir(big)
        with open(os.path.join(big, "w.bin"), "wb") as f:
            f.truncate(16 << 30)    # sparse: 16 GiB to hash, nothing on disk
        p = subprocess.Popen([CLI, "manifest", "sign", big, *self.kr, "--key", "signer",
                              "--threads", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(2.0)
        self.assertIsNone(p.poll(), "hashing 16 GiB finished too fast to interrupt")
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 11, err)
        self.assertIn(b"interrupted", err)
        self.assertEqual(sorted(os.listdir(big)), ["w.bin"])


if __name__ == "__main__":
    unittest.main()
