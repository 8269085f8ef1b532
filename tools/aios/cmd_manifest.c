/*
 * aios manifest sign | verify | digest | show: signed model manifests in
 * the OpenSSF Model Signing (OMS) format (include/aios/manifest.h,
 * docs/MANIFEST.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "envelope_cli.h"

#define MF_MAX_SET      256
#define MF_MAX_CHAIN    8
#define MF_MAX_ANCHORS  256
#define MF_PEM_MAX      ((size_t)1 << 20)
#define MF_PROV_MAX     ((size_t)64 << 10)

#define KEY_HELP \
    "Keys (--key):\n" \
    "  --key KEY_ID[@VERSION]    a key of the keyring named by --keyring: an ecdsa-p256,\n" \
    "                            ecdsa-p384 or ecdsa-p521 key (interoperable with\n" \
    "                            model_signing), or\n" \
    "                            ed25519 (a libaios extension model_signing cannot verify)\n" \
    "  --key 'pkcs11:token=T;object=LABEL[?module-path=/path/to/module.so]'\n" \
    "                            an EC key inside a PKCS#11 token (RFC 7512 URI; the key\n" \
    "                            is the object= label).  The PIN comes from --pin-file F,\n" \
    "                            else the URI's pin-source or pin-value\n" \
    "  --pkcs11-module PATH      the PKCS#11 module, when the URI has no module-path\n" \
    "  --pin-file F              the token's user PIN, in file F\n" \
    "Keyring (the secret is read from a file, a file descriptor or the terminal\n" \
    "with echo off; never from the command line or the environment):\n" \
    "  --keyring PATH            the keyring file (opened read-only)\n" \
    "  --passphrase-file F       its passphrase, in file F (one trailing newline dropped)\n" \
    "  --passphrase-fd N         its passphrase, read from file descriptor N\n" \
    "  --master-key-file F       a raw 32-byte master key instead of a passphrase\n" \
    "  (none of these)           ask on the terminal\n"

#define HASH_HELP \
    "  --method M                files (default: one digest per file) or shards (one\n" \
    "                            digest per fixed-size piece of every file)\n" \
    "  --shard-size N            shards: bytes per shard, 1M..2^40 (suffix K, M or G,\n" \
    "                            1024-based; default 1000000000)\n" \
    "  --hash H                  sha256 (default) or blake2b\n" \
    "  --profile P               model-signing-1 (default: what model_signing 1.x\n" \
    "                            accepts) or oms-1.0 (the OMS specification v1.0)\n" \
    "  --allow-symlinks          hash symlinks to files inside the model (default: a\n" \
    "                            symlink is an error)\n" \
    "  --ignore PATH             leave PATH (relative to the model) out (repeatable)\n" \
    "  --include-git             also hash .git, .gitattributes, .github, .gitignore\n" \
    "                            (left out by default)\n" \
    "  --threads N               hashing threads, 1..256 (default: every CPU)\n"

static const char sign_usage[] =
    "Usage: aios manifest sign MODEL --key KEY [options]\n"
    "\n"
    "Hash the model MODEL (a directory, or one file) and sign the manifest: a\n"
    "Sigstore bundle in the OpenSSF Model Signing format, which `model_signing\n"
    "verify key|certificate` accepts (ECDSA keys, files method, model-signing-1).\n"
    "The signature is written atomically (temporary file, then rename): an\n"
    "interrupted or failed run never leaves a partial signature.  A signature\n"
    "inside the model is left out of the manifest (and named in its ignore paths).\n"
    "\n"
    KEY_HELP
    "\n"
    "Options:\n"
    "  -o, --output SIG          the signature file (default MODEL/model.sig for a\n"
    "                            directory, MODEL.sig for a file); \"-\": standard output\n"
    HASH_HELP
    "  --subject NAME            the subject name (default: MODEL's basename)\n"
    "  --provenance FILE.json    signed provenance: a JSON object (docs/MANIFEST.md 5.7)\n"
    "  --set KEY=VALUE           signed provenance, one member at a time: model, version,\n"
    "                            approver, approved_at, dataset (repeatable: a list),\n"
    "                            label.NAME (a label); not with --provenance\n"
    "  --cert-chain FILE         certificate method: the leaf certificate (PEM or DER; its\n"
    "                            key must be the signing key), then intermediates\n"
    "                            (repeatable, or several PEM blocks in one file; no root)\n"
    "  --cache FILE              a stat cache: files whose inode, size, mtime and ctime\n"
    "                            did not change since the last run are not hashed again\n"
    "  --json                    a JSON summary on stdout\n"
    "  --quiet                   no progress bar, nothing on stderr but errors\n"
    "\n"
    "Example:\n"
    "  aios manifest sign --keyring ring.aioskr --passphrase-file pass --key signer \\\n"
    "                     --set version=1.2.0 --set approver=alice models/llama\n";

static const char verify_usage[] =
    "Usage: aios manifest verify MODEL [--signature SIG]\n"
    "                            (--public-key PEM | --key KEY | --trust-anchor CA.pem... |\n"
    "                             --sigstore-root ROOT.json --identity ID --oidc-issuer URL)\n"
    "                            [options]\n"
    "\n"
    "Verify the signature SIG (default MODEL/model.sig, or MODEL.sig for a one-file\n"
    "model) with the trust given, then hash MODEL and compare it with the signed\n"
    "manifest.  Nothing of the model is read before the signature verifies.  On a\n"
    "difference, every missing, extra and modified file is listed (on standard\n"
    "output) and the exit status is 4.\n"
    "\n"
    "Trust (exactly one kind):\n"
    "  --public-key PEM          the signer's public key (aios key export-public; ECDSA\n"
    "                            P-256/P-384/P-521 or Ed25519)\n"
    "  --key KEY                 a key of a keyring or a PKCS#11 token (see below)\n"
    "  --trust-anchor CA.pem     certificate method: a trusted CA certificate (PEM or DER;\n"
    "                            repeatable, every one is trusted)\n"
    "  --time T                  with --trust-anchor: when the chain must be valid:\n"
    "                            leaf-not-before (model-signing-1 default), now (oms-1.0\n"
    "                            default) or a UNIX time\n"
    "  --sigstore-root ROOT.json Sigstore keyless ('model_signing sign sigstore'): the\n"
    "                            Sigstore trusted root (the trusted_root.json the Sigstore\n"
    "                            clients ship; nothing is fetched) or a client trust\n"
    "                            config (model_signing's --trust_config; --trust-config\n"
    "                            is another name for this option), with\n"
    "  --identity ID             the signer's email or URI (exactly), and\n"
    "  --oidc-issuer URL         the OIDC issuer that vouched for it (exactly)\n"
    "\n"
    KEY_HELP
    "\n"
    "Options:\n"
    "  -s, --signature SIG       the signature file\n"
    "  --ignore-unsigned         do not report files the manifest does not name\n"
    "  --strict-empty            shards: an extra empty file is a difference too\n"
    "  --ignore PATH             leave PATH out of the comparison (repeatable), besides\n"
    "                            the ignore paths the signature names\n"
    "  --include-git             also compare .git, .gitattributes, .github, .gitignore\n"
    "                            (left out by default): for a model signed --include-git\n"
    "  --profile P               model-signing-1 (default) or oms-1.0 (stricter reading)\n"
    "  --threads N               hashing threads, 1..256 (default: every CPU)\n"
    "  --json                    {\"ok\", \"root_digest\", \"diff\", \"signer\", ...} on stdout\n"
    "  --quiet                   no progress bar, nothing on stderr but errors\n"
    "\n"
    "Exit status: 0 verified; 4 the signature, key, chain or content does not\n"
    "match (the diff says how); 3 a malformed signature; 5 MODEL or SIG does not\n"
    "exist; 8 a limit exceeded; 11 interrupted; the others as 'aios manifest --help'\n"
    "lists them.\n";

static const char digest_usage[] =
    "Usage: aios manifest digest MODEL [options]\n"
    "\n"
    "Hash MODEL as 'aios manifest sign' would (no key) and print its root digest\n"
    "in hex: the model's identity (the OMS subject digest), equal to the\n"
    "root_digest that 'aios manifest show' prints for its signature (given the\n"
    "same --method, --hash, --shard-size, --profile, --include-git, --ignore and\n"
    "--allow-symlinks as sign had).  The signature file\n"
    "(MODEL/model.sig, or --signature SIG) is left out, as sign leaves it out.\n"
    "\n"
    "Options:\n"
    "  -s, --signature SIG       a signature file inside the model to leave out\n"
    HASH_HELP
    "  --cache FILE              a stat cache, as for sign\n"
    "  --json                    the whole manifest (resources and digests) as JSON\n"
    "  --quiet                   no progress bar\n";

static const char show_usage[] =
    "Usage: aios manifest show SIG [--public-key PEM | --key KEY | --trust-anchor CA.pem... |\n"
    "                               --sigstore-root ROOT.json --identity ID --oidc-issuer URL]\n"
    "\n"
    "Print the manifest in the signature file SIG as JSON: subject, root digest,\n"
    "method, signer, signed provenance and every resource.  Without trust options\n"
    "NOTHING shown is verified (\"verified\": false); with them the signature is\n"
    "checked first (as 'aios manifest verify' does, without reading the model).\n"
    "\n"
    "Options:\n"
    "  --public-key PEM, --key KEY, --trust-anchor CA.pem, --time T,\n"
    "  --sigstore-root ROOT.json, --identity ID, --oidc-issuer URL     as for verify\n"
    "  --profile P               model-signing-1 (default) or oms-1.0\n"
    "  --json                    the same document, with \"ok\": true (for scripts)\n"
    "\n"
    KEY_HELP;

static const char manifest_usage_head[] =
    "Usage: aios manifest <action> [args] [options]\n"
    "\n"
    "Signed model manifests (OpenSSF Model Signing / OMS format).\n"
    "\n"
    "Actions:\n"
    "  sign MODEL --key KEY [-o SIG]        hash and sign a model directory or file\n"
    "  verify MODEL [--signature SIG] (--public-key PEM | --key KEY | --trust-anchor CA |\n"
    "                --sigstore-root ROOT.json --identity ID --oidc-issuer URL)\n"
    "                                       verify the signature, then the model's files\n"
    "  digest MODEL                         the model's root digest (its identity)\n"
    "  show SIG [trust options]             the manifest in a signature, as JSON\n"
    "\n"
    "'aios manifest <action> --help' shows an action's options.\n"
    "\n"
    "Exit status:\n"
    "  0   success\n"
    "  1   internal error\n"
    "  2   usage error (bad command line)\n"
    "  3   invalid input: a malformed signature, key, certificate or provenance file, a\n"
    "      bundle of another method, a symlink, special file or bad name in the model\n"
    "  4   a signature, key, chain or content mismatch (or a wrong keyring passphrase)\n"
    "  5   not found (the model, the signature, a key)\n"
    "  6   denied by policy\n"
    "  7   I/O error (a PKCS#11 token's too)\n"
    "  8   a limit exceeded (too many files, too deep, a file or bundle too large)\n"
    "  9   not allowed in the current state (a disabled, destroyed or expired key)\n"
    "  10  out of memory\n"
    "  11  interrupted (Ctrl-C), or a provider or hook failed\n";

/* ------------------------------------------------------------ arguments */

typedef struct mf_args {
    const char *action;
    /* keys */
    const char *key;
    const char *public_key;
    const char *pkcs11_module;
    const char *pin_file;
    const char *anchors[MF_MAX_ANCHORS];
    size_t nanchors;
    const char *time;
    const char *sigstore_root, *identity, *oidc_issuer;   /* Sigstore keyless */
    /* keyring (reuses the envelope verbs' unlocking) */
    env_args ring;
    /* hashing */
    aios_manifest_method method;
    uint64_t shard_size;
    const char *hash;
    aios_manifest_profile profile;
    int allow_symlinks;
    const char *ignore[1024];
    size_t nignore;
    int include_git;
    uint32_t threads;
    const char *cache;
    /* sign */
    const char *output;
    const char *subject;
    const char *provenance;
    const char *set[MF_MAX_SET];
    size_t nset;
    const char *chain[MF_MAX_CHAIN];
    size_t nchain;
    /* verify */
    const char *signature;
    int ignore_unsigned;
    int strict_empty;
    /* operands */
    const char *operands[8];
    size_t noperands;
} mf_args;

enum {
    A_SIGN = 1u << 0, A_VERIFY = 1u << 1, A_DIGEST = 1u << 2, A_SHOW = 1u << 3,
    A_ALL = 0xf
};

static const char *verb_of(unsigned action)
{
    switch (action) {
    case A_SIGN: return "manifest sign";
    case A_VERIFY: return "manifest verify";
    case A_DIGEST: return "manifest digest";
    case A_SHOW: return "manifest show";
    default: return "manifest";
    }
}

static const char *usage_of(unsigned action)
{
    switch (action) {
    case A_SIGN: return sign_usage;
    case A_VERIFY: return verify_usage;
    case A_DIGEST: return digest_usage;
    case A_SHOW: return show_usage;
    default: return manifest_usage_head;
    }
}


/* A byte count with an optional K/M/G suffix (1024-based). */
static int parse_size(const char *s, uint64_t *out)
{
    char buf[32];
    size_t n = strlen(s);
    uint64_t mult = 1, v;
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n + 1);
    if (n > 1 && strchr("kKmMgG", buf[n - 1])) {
        char c = buf[n - 1];
        mult = (c == 'k' || c == 'K') ? 1024u : (c == 'm' || c == 'M') ? 1024u * 1024u
                                                                        : 1024u * 1024u * 1024u;
        buf[n - 1] = '\0';
    }
    if (cli_parse_u64(buf, &v) || v > UINT64_MAX / mult)
        return -1;
    *out = v * mult;
    return 0;
}

static int parse_profile(const char *s, aios_manifest_profile *p)
{
    if (!strcmp(s, "model-signing-1"))
        *p = AIOS_MANIFEST_PROFILE_MODEL_SIGNING_1;
    else if (!strcmp(s, "oms-1.0"))
        *p = AIOS_MANIFEST_PROFILE_OMS_1_0;
    else
        return -1;
    return 0;
}

static int mf_parse(cli_ctx *ctx, unsigned action, int argc, char **argv, mf_args *a)
{
    enum { O_KEY = 256, O_PUBKEY, O_PKCS11_MODULE, O_PIN_FILE, O_ANCHOR, O_TIME, O_KEYRING,
           O_PFILE, O_PFD, O_MKEY, O_METHOD, O_SHARD_SIZE, O_HASH, O_PROFILE, O_SYMLINKS,
           O_IGNORE, O_INCLUDE_GIT, O_THREADS, O_CACHE, O_SUBJECT, O_PROVENANCE, O_SET,
           O_CHAIN, O_IGNORE_UNSIGNED, O_STRICT_EMPTY, O_JSON, O_QUIET, O_HELP, O_SIGSTORE,
           O_IDENTITY, O_OIDC_ISSUER };
    static const struct option longopts[] = {
        { "key", required_argument, NULL, O_KEY },
        { "public-key", required_argument, NULL, O_PUBKEY },
        { "pkcs11-module", required_argument, NULL, O_PKCS11_MODULE },
        { "pin-file", required_argument, NULL, O_PIN_FILE },
        { "trust-anchor", required_argument, NULL, O_ANCHOR },
        { "time", required_argument, NULL, O_TIME },
        { "sigstore-root", required_argument, NULL, O_SIGSTORE },
        { "trust-config", required_argument, NULL, O_SIGSTORE },
        { "identity", required_argument, NULL, O_IDENTITY },
        { "oidc-issuer", required_argument, NULL, O_OIDC_ISSUER },
        { "keyring", required_argument, NULL, O_KEYRING },
        { "passphrase-file", required_argument, NULL, O_PFILE },
        { "passphrase-fd", required_argument, NULL, O_PFD },
        { "master-key-file", required_argument, NULL, O_MKEY },
        { "method", required_argument, NULL, O_METHOD },
        { "shard-size", required_argument, NULL, O_SHARD_SIZE },
        { "hash", required_argument, NULL, O_HASH },
        { "profile", required_argument, NULL, O_PROFILE },
        { "allow-symlinks", no_argument, NULL, O_SYMLINKS },
        { "ignore", required_argument, NULL, O_IGNORE },
        { "include-git", no_argument, NULL, O_INCLUDE_GIT },
        { "threads", required_argument, NULL, O_THREADS },
        { "cache", required_argument, NULL, O_CACHE },
        { "output", required_argument, NULL, 'o' },
        { "subject", required_argument, NULL, O_SUBJECT },
        { "provenance", required_argument, NULL, O_PROVENANCE },
        { "set", required_argument, NULL, O_SET },
        { "cert-chain", required_argument, NULL, O_CHAIN },
        { "signature", required_argument, NULL, 's' },
        { "ignore-unsigned", no_argument, NULL, O_IGNORE_UNSIGNED },
        { "strict-empty", no_argument, NULL, O_STRICT_EMPTY },
        { "json", no_argument, NULL, O_JSON },
        { "quiet", no_argument, NULL, O_QUIET },
        { "help", no_argument, NULL, O_HELP },
        { NULL, 0, NULL, 0 }
    };
    const char *verb = verb_of(action);
    int c;
    uint64_t u;

    memset(a, 0, sizeof(*a));
    a->ring.passphrase_fd = -1;
    a->method = AIOS_MANIFEST_FILES;
    a->profile = AIOS_MANIFEST_PROFILE_MODEL_SIGNING_1;
    opterr = 0;
    optind = 1;
    int li = -1;
    while ((c = getopt_long(argc, argv, "o:s:qh", longopts, &li)) != -1) {
        const char *bad = NULL;
        unsigned allowed = A_ALL;
        char optname[40];
        /* The option as named (argv[optind - 1] would be its value). */
        if (li >= 0)
            snprintf(optname, sizeof(optname), "--%s", longopts[li].name);
        else
            snprintf(optname, sizeof(optname), "-%c", c);
        li = -1;
        switch (c) {
        case O_KEY: case O_PKCS11_MODULE: case O_PIN_FILE: case O_KEYRING: case O_PFILE:
        case O_PFD: case O_MKEY:
            allowed = A_SIGN | A_VERIFY | A_SHOW; break;
        case O_PUBKEY: case O_ANCHOR: case O_TIME: case O_SIGSTORE: case O_IDENTITY:
        case O_OIDC_ISSUER:
            allowed = A_VERIFY | A_SHOW; break;
        case O_METHOD: case O_SHARD_SIZE: case O_HASH: case O_SYMLINKS: case O_CACHE:
            allowed = A_SIGN | A_DIGEST; break;
        case O_IGNORE: case O_INCLUDE_GIT: case O_THREADS:
            allowed = A_SIGN | A_VERIFY | A_DIGEST; break;
        case 'o': case O_SUBJECT: case O_PROVENANCE: case O_SET: case O_CHAIN:
            allowed = A_SIGN; break;
        case 's': allowed = A_VERIFY | A_DIGEST; break;
        case O_IGNORE_UNSIGNED: case O_STRICT_EMPTY: allowed = A_VERIFY; break;
        default: break;
        }
        if (!(allowed & action))
            return cli_usage_error(ctx, verb, "option '%s' does not apply here", optname);
        switch (c) {
        case O_KEY: a->key = optarg; break;
        case O_PUBKEY: a->public_key = optarg; break;
        case O_PKCS11_MODULE: a->pkcs11_module = optarg; break;
        case O_PIN_FILE: a->pin_file = optarg; break;
        case O_ANCHOR:
            if (a->nanchors == MF_MAX_ANCHORS)
                bad = "at most 256 --trust-anchor";
            else
                a->anchors[a->nanchors++] = optarg;
            break;
        case O_TIME: a->time = optarg; break;
        case O_SIGSTORE: a->sigstore_root = optarg; break;
        case O_IDENTITY: a->identity = optarg; break;
        case O_OIDC_ISSUER: a->oidc_issuer = optarg; break;
        case O_KEYRING: a->ring.keyring = optarg; break;
        case O_PFILE: a->ring.passphrase_file = optarg; break;
        case O_PFD:
            if (cli_parse_u64(optarg, &u) || u > 1024)
                bad = "--passphrase-fd needs a descriptor number";
            else
                a->ring.passphrase_fd = (int)u;
            break;
        case O_MKEY: a->ring.master_key_file = optarg; break;
        case O_METHOD:
            if (!strcmp(optarg, "files"))
                a->method = AIOS_MANIFEST_FILES;
            else if (!strcmp(optarg, "shards"))
                a->method = AIOS_MANIFEST_SHARDS;
            else
                bad = "--method is files or shards";
            break;
        case O_SHARD_SIZE:
            if (parse_size(optarg, &u) || u < ((uint64_t)1 << 20) || u > ((uint64_t)1 << 40))
                bad = "--shard-size needs a size from 1048576 (1M) to 1099511627776 (2^40)";
            else
                a->shard_size = u;
            break;
        case O_HASH:
            if (!strcmp(optarg, "sha256") || !strcmp(optarg, "blake2b"))
                a->hash = optarg;
            else
                bad = "--hash is sha256 or blake2b";
            break;
        case O_PROFILE:
            if (parse_profile(optarg, &a->profile))
                bad = "--profile is model-signing-1 or oms-1.0";
            break;
        case O_SYMLINKS: a->allow_symlinks = 1; break;
        case O_IGNORE:
            if (a->nignore == sizeof(a->ignore) / sizeof(a->ignore[0]))
                bad = "at most 1024 --ignore";
            else
                a->ignore[a->nignore++] = optarg;
            break;
        case O_INCLUDE_GIT: a->include_git = 1; break;
        case O_THREADS:
            if (cli_parse_u64(optarg, &u) || u == 0 || u > 256)
                bad = "--threads needs a number from 1 to 256";
            else
                a->threads = (uint32_t)u;
            break;
        case O_CACHE: a->cache = optarg; break;
        case 'o': a->output = optarg; break;
        case O_SUBJECT: a->subject = optarg; break;
        case O_PROVENANCE: a->provenance = optarg; break;
        case O_SET:
            if (a->nset == MF_MAX_SET)
                bad = "at most 256 --set";
            else
                a->set[a->nset++] = optarg;
            break;
        case O_CHAIN:
            if (a->nchain == MF_MAX_CHAIN)
                bad = "at most 8 --cert-chain files";
            else
                a->chain[a->nchain++] = optarg;
            break;
        case 's': a->signature = optarg; break;
        case O_IGNORE_UNSIGNED: a->ignore_unsigned = 1; break;
        case O_STRICT_EMPTY: a->strict_empty = 1; break;
        case O_JSON: ctx->json = 1; break;
        case 'q': case O_QUIET: ctx->quiet = 1; break;
        case 'h': case O_HELP:
            fputs(usage_of(action), stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(ctx, verb, "unknown option or missing value: '%s'",
                                   argv[optind - 1]);
        }
        if (bad)
            return cli_usage_error(ctx, verb, "%s", bad);
    }
    while (optind < argc) {
        if (a->noperands == sizeof(a->operands) / sizeof(a->operands[0]))
            return cli_usage_error(ctx, verb, "too many arguments");
        a->operands[a->noperands++] = argv[optind++];
    }
    if ((a->ring.passphrase_file != NULL) + (a->ring.passphrase_fd >= 0) +
        (a->ring.master_key_file != NULL) > 1)
        return cli_usage_error(ctx, verb, "give one of --passphrase-file, --passphrase-fd, "
                               "--master-key-file");
    if (a->shard_size && a->method != AIOS_MANIFEST_SHARDS)
        return cli_usage_error(ctx, verb, "--shard-size needs --method shards");
    if (a->provenance && a->nset)
        return cli_usage_error(ctx, verb, "give --provenance or --set, not both");
    if (a->time && a->nanchors == 0)
        return cli_usage_error(ctx, verb, "--time applies to --trust-anchor verification");
    if (!(a->sigstore_root && a->identity && a->oidc_issuer) &&
        (a->sigstore_root || a->identity || a->oidc_issuer))
        return cli_usage_error(ctx, verb, "Sigstore keyless verification needs all of "
                               "--sigstore-root, --identity and --oidc-issuer");
    if ((a->ring.keyring || a->ring.passphrase_file || a->ring.passphrase_fd >= 0 ||
         a->ring.master_key_file) && a->key && !strncmp(a->key, "pkcs11:", 7))
        return cli_usage_error(ctx, verb, "a pkcs11: key needs no keyring options");
    if ((a->pkcs11_module || a->pin_file) && !(a->key && !strncmp(a->key, "pkcs11:", 7)))
        return cli_usage_error(ctx, verb, "--pkcs11-module and --pin-file go with "
                               "--key pkcs11:...");
    return -1;
}

/* ------------------------------------------------------------ files */

/* Read a whole small file (certificates, keys, provenance). */
static int read_small_file(cli_ctx *ctx, const char *verb, const char *path, const char *what,
                           size_t max, uint8_t **out, size_t *len)
{
    int fd, rc;
    struct stat st;

    *out = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return env_fail(ctx, verb, errno == ENOENT ? AIOS_E_NOT_FOUND : AIOS_E_IO,
                        "cannot open the %s %s: %s", what, path, strerror(errno));
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return env_fail(ctx, verb, AIOS_E_IO, "the %s %s is a directory", what, path);
    }
    rc = env_read_all(fd, max, out, len);
    close(fd);
    if (rc != AIOS_OK)
        return env_fail(ctx, verb, rc, "cannot read the %s %s: %s", what, path,
                        rc == AIOS_E_LIMIT ? "too large" : rc == AIOS_E_NOMEM ? "out of memory"
                                                                           : strerror(errno));
    return CLI_EXIT_OK;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Decode the base64 body of a PEM block (whitespace ignored) in place
 * into out (at least (len / 4) * 3 bytes).  Returns the length or -1. */
static long pem_b64(const char *p, size_t len, uint8_t *out)
{
    uint32_t acc = 0;
    int bits = 0, pad = 0;
    long n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        int v;
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if (c == '=') {
            pad++;
            continue;
        }
        if (pad || (v = b64val(c)) < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    if (pad > 2 || bits >= 6)
        return -1;
    return n;
}

/* Certificates from a file: every "CERTIFICATE" PEM block, or the file as
 * one DER certificate.  Appends to ders/lens (malloc'ed each). */
static int load_certs(cli_ctx *ctx, const char *verb, const char *path, uint8_t **ders,
                      size_t *lens, size_t *n, size_t cap)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----";
    static const char end[] = "-----END CERTIFICATE-----";
    uint8_t *buf = NULL;
    size_t len = 0;
    const char *p;
    int rc = read_small_file(ctx, verb, path, "certificate file", MF_PEM_MAX, &buf, &len);
    if (rc != CLI_EXIT_OK)
        return rc;
    p = strstr((const char *)buf, begin);
    if (!p && strstr((const char *)buf, "-----BEGIN")) {
        free(buf);
        return env_fail(ctx, verb, AIOS_E_FORMAT, "%s holds no CERTIFICATE PEM block", path);
    }
    if (!p) {                       /* DER */
        if (*n == cap) {
            free(buf);
            return cli_usage_error(ctx, verb, "at most %zu certificates", cap);
        }
        ders[*n] = buf;
        lens[(*n)++] = len;
        return CLI_EXIT_OK;
    }
    while (p) {
        const char *body = p + sizeof(begin) - 1;
        const char *e = strstr(body, end);
        uint8_t *der;
        long dl;
        if (!e) {
            free(buf);
            return env_fail(ctx, verb, AIOS_E_FORMAT, "%s: a PEM block has no END line", path);
        }
        if (*n == cap) {
            free(buf);
            return cli_usage_error(ctx, verb, "at most %zu certificates", cap);
        }
        der = malloc((size_t)(e - body) / 4 * 3 + 3);
        if (!der) {
            free(buf);
            return env_fail(ctx, verb, AIOS_E_NOMEM, "out of memory");
        }
        dl = pem_b64(body, (size_t)(e - body), der);
        if (dl <= 0) {
            free(der);
            free(buf);
            return env_fail(ctx, verb, AIOS_E_FORMAT, "%s: a PEM block is not base64", path);
        }
        ders[*n] = der;
        lens[(*n)++] = (size_t)dl;
        p = strstr(e + sizeof(end) - 1, begin);
    }
    free(buf);
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------ keys */

/* The value of a path attribute of a PKCS#11 URI, percent-decoded. */
static int uri_attr(const char *uri, const char *name, char *out, size_t cap)
{
    const char *p = uri + 7, *q = strchr(uri, '?');
    size_t nlen = strlen(name);
    const char *stop = q ? q : uri + strlen(uri);
    while (p < stop) {
        const char *semi = memchr(p, ';', (size_t)(stop - p));
        const char *e = semi ? semi : stop;
        if ((size_t)(e - p) > nlen && !strncmp(p, name, nlen) && p[nlen] == '=') {
            size_t n = 0;
            for (const char *s = p + nlen + 1; s < e; s++) {
                int ch = (unsigned char)*s;
                if (ch == '%') {
                    unsigned v;
                    if (e - s < 3 || sscanf(s + 1, "%2x", &v) != 1)
                        return -1;
                    ch = (int)v;
                    s += 2;
                }
                if (n + 1 >= cap || ch == 0)
                    return -1;
                out[n++] = (char)ch;
            }
            out[n] = '\0';
            return n ? 0 : -1;
        }
        p = e + 1;
    }
    return -1;
}

static int pkcs11_key(cli_ctx *ctx, const char *verb, const mf_args *a, aios_key **out)
{
    aios_pkcs11_options po = AIOS_PKCS11_OPTIONS_INIT;
    aios_provider *prov = NULL;
    aios_buffer *pin = NULL;
    char label[256];
    int rc;

    if (uri_attr(a->key, "object", label, sizeof(label)) != 0)
        return cli_usage_error(ctx, verb, "the pkcs11: URI names no key: add object=LABEL");
    if (a->pin_file) {
        if ((rc = cli_read_secret_file(a->pin_file, &pin, "PIN")) != AIOS_OK)
            return cli_exit(rc);
        po.pin = (const char *)aios_buffer_data(pin);   /* NUL-terminated, secure */
    }
    rc = aios_provider_pkcs11(&prov, a->pkcs11_module, a->key, &po);
    aios_buffer_free(pin);
    if (rc != AIOS_OK)
        return cli_fail(ctx, verb, rc);
    rc = aios_provider_get_key(prov, out, label, 0);
    aios_provider_unref(prov);
    if (rc != AIOS_OK)
        return cli_fail(ctx, verb, rc);
    return CLI_EXIT_OK;
}

/* The key --key names: a keyring key or a PKCS#11 key. */
static int load_key(cli_ctx *ctx, const char *verb, mf_args *a, aios_key **out)
{
    aios_keyring *kr = NULL;
    char id[512];
    uint32_t version;
    int rc;

    *out = NULL;
    if (!strncmp(a->key, "pkcs11:", 7))
        return pkcs11_key(ctx, verb, a, out);
    if (env_parse_key_ref(a->key, id, sizeof(id), &version) != 0)
        return cli_usage_error(ctx, verb, "'%s' is not KEY_ID, KEY_ID@VERSION or a pkcs11: URI",
                               a->key);
    if (!a->ring.keyring)
        return cli_usage_error(ctx, verb, "--key %s names a keyring key: give --keyring", a->key);
    if ((rc = env_keyring_open(ctx, verb, &a->ring, &kr)) != CLI_EXIT_OK)
        return rc;
    rc = aios_keyring_get(kr, out, id, version);
    aios_keyring_free(kr);       /* the key handle outlives it */
    if (rc != AIOS_OK)
        return cli_fail(ctx, verb, rc);
    return CLI_EXIT_OK;
}

static int load_public_key(cli_ctx *ctx, const char *verb, const char *path, aios_key **out)
{
    uint8_t *pem = NULL;
    size_t len = 0;
    int rc = read_small_file(ctx, verb, path, "public key file", MF_PEM_MAX, &pem, &len);
    *out = NULL;
    if (rc != CLI_EXIT_OK)
        return rc;
    /* Text before the PEM block (certtool's dump, RFC 7468 section 2 allows
     * it) is skipped here: the library's parser expects the block first. */
    const char *begin = strstr((const char *)pem, "-----BEGIN");
    size_t skip = begin ? (size_t)(begin - (const char *)pem) : 0;
    rc = aios_key_from_public_pem(out, NULL, (const char *)pem + skip, len - skip);
    free(pem);
    if (rc != AIOS_OK)
        return env_fail(ctx, verb, rc, "%s: %s", path, env_lib_msg(rc));
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------ progress */

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;        /* the handler is reset: a second Ctrl-C ends at once */
}

static void catch_interrupts(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

typedef struct progress {
    pthread_mutex_t lock;
    int bar;                    /* draw on stderr */
    int drawn;                  /* a bar is on screen */
    struct timespec start, last;
    char name[CLI_TEXT_CAP];    /* the path in progress, escaped (cli_text) */
} progress;

static double since(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void human(char *out, size_t cap, double v)
{
    static const char *const units[] = { "B", "KB", "MB", "GB", "TB" };
    int u = 0;
    while (v >= 1000.0 && u < 4) {
        v /= 1000.0;
        u++;
    }
    snprintf(out, cap, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

/* Called by the library, possibly on its hashing threads, never on two at
 * once; the lock also orders what each sees of the last one's state. */
static int on_progress(uint64_t done, uint64_t total, const char *path, void *payload)
{
    progress *p = payload;
    struct timespec now;
    char d[32], t[32], rate[32], line[512];
    struct winsize ws;
    int width = 80, pct;
    double secs;

    if (interrupted)
        return 1;
    if (!p->bar)
        return 0;
    pthread_mutex_lock(&p->lock);
    clock_gettime(CLOCK_MONOTONIC, &now);
    /* total == 0: the model is still being listed (path: the directory) */
    if (p->drawn && since(&p->last, &now) < 0.1 && (done < total || total == 0)) {
        pthread_mutex_unlock(&p->lock);
        return 0;
    }
    if (total == 0 && done == 0) {
        p->last = now;
        snprintf(line, sizeof(line), "listing %s", cli_text(p->name, 200, path));
        fprintf(stderr, "\r\033[K%s", line);
        fflush(stderr);
        p->drawn = 1;
        pthread_mutex_unlock(&p->lock);
        return 0;
    }
    p->last = now;
    secs = since(&p->start, &now);
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
        width = ws.ws_col;
    if (width > (int)sizeof(line) - 1)
        width = (int)sizeof(line) - 1;
    pct = total ? (int)((double)done * 100.0 / (double)total) : 100;
    human(d, sizeof(d), (double)done);
    human(t, sizeof(t), (double)total);
    human(rate, sizeof(rate), secs > 0.05 ? (double)done / secs : 0.0);
    {
        char bar[21];
        int fill = pct / 5, n;
        for (int i = 0; i < 20; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[20] = '\0';
        n = snprintf(line, sizeof(line), "[%s] %3d%%  %s / %s  %s/s  ", bar, pct, d, t, rate);
        if (n > 0 && n < width) {
            /* the file (escaped), its end kept when it is too long, from
             * the start of a character */
            const char *name = cli_text(p->name, sizeof(p->name), path);
            size_t room = (size_t)(width - 1 - n), pl = strlen(name);
            if (pl > room && room > 3) {
                const char *tail = name + pl - (room - 3);
                while (((unsigned char)*tail & 0xc0) == 0x80)
                    tail++;
                snprintf(line + n, sizeof(line) - (size_t)n, "...%s", tail);
            } else if (pl <= room) {
                snprintf(line + n, sizeof(line) - (size_t)n, "%s", name);
            }
        }
        line[width - 1 < (int)sizeof(line) ? width - 1 : (int)sizeof(line) - 1] = '\0';
    }
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
    p->drawn = 1;
    pthread_mutex_unlock(&p->lock);
    return 0;
}

static void progress_init(progress *p, cli_ctx *ctx)
{
    memset(p, 0, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    p->bar = !ctx->quiet && !ctx->json && isatty(STDERR_FILENO);
    clock_gettime(CLOCK_MONOTONIC, &p->start);
    catch_interrupts();
}

static void progress_end(progress *p)
{
    pthread_mutex_lock(&p->lock);
    if (p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->drawn = 0;
    }
    p->bar = 0;
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_destroy(&p->lock);
}

static void hash_options_from(aios_manifest_hash_options *h, const mf_args *a, progress *p)
{
    h->threads = a->threads;
    h->flags = a->include_git ? AIOS_MANIFEST_NO_GIT_DEFAULTS : 0;
    h->ignore_paths = a->nignore ? a->ignore : NULL;
    h->ignore_paths_len = a->nignore;
    h->progress = on_progress;
    h->progress_payload = p;
}

/* A failure of a hashing call: Ctrl-C gets its own message. */
static int hash_fail(cli_ctx *ctx, const char *verb, int st)
{
    if (st == AIOS_E_CANCELLED && interrupted)
        return env_fail(ctx, verb, st, "interrupted: nothing was written");
    return cli_fail(ctx, verb, st);
}

/* ------------------------------------------------------------ helpers */

static void hex(char *out, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static void root_hex(const aios_manifest *m, char out[65])
{
    uint8_t d[32];
    if (aios_manifest_root_digest(m, d) == AIOS_OK)
        hex(out, d, 32);
    else
        out[0] = '\0';
}

/* A library JSON buffer parsed (NULL if absent or not JSON). */
static json_t *lib_json(int rc, aios_buffer *b)
{
    json_t *doc = NULL;
    if (rc == AIOS_OK && b)
        doc = json_loadb((const char *)aios_buffer_data(b), aios_buffer_len(b), 0, NULL);
    aios_buffer_free(b);
    return doc;
}

static json_t *signer_of(const aios_manifest *m)
{
    aios_buffer *b = NULL;
    int rc = aios_manifest_signer_json(m, &b);
    return lib_json(rc, b);
}

/* A string member of the signer's JSON, or dflt. */
static const char *signer_str(const json_t *sg, const char *key, const char *dflt)
{
    const char *v = json_string_value(json_object_get(sg, key));
    return v ? v : dflt;
}

/* The default signature path: MODEL/model.sig or MODEL.sig. */
static char *default_sig(const char *model)
{
    struct stat st;
    size_t n = strlen(model);
    char *s;
    int dir = stat(model, &st) == 0 && S_ISDIR(st.st_mode);
    while (n > 1 && model[n - 1] == '/')
        n--;
    s = malloc(n + 16);
    if (!s)
        return NULL;
    memcpy(s, model, n);
    strcpy(s + n, dir ? "/model.sig" : ".sig");
    return s;
}

/* Provenance from --set KEY=VALUE pairs: a compact JSON object. */
static int provenance_from_set(cli_ctx *ctx, const char *verb, const mf_args *a, char **out)
{
    json_t *o = json_pack("{s:i}", "v", 1), *datasets = NULL, *labels = NULL;
    *out = NULL;
    if (!o)
        return env_fail(ctx, verb, AIOS_E_NOMEM, "out of memory");
    for (size_t i = 0; i < a->nset; i++) {
        const char *eq = strchr(a->set[i], '=');
        size_t kl = eq ? (size_t)(eq - a->set[i]) : 0;
        const char *v = eq ? eq + 1 : NULL;
        char key[64];
        int bad = 0;
        if (!eq || kl == 0) {
            json_decref(o);
            return cli_usage_error(ctx, verb, "--set needs KEY=VALUE, not '%s'", a->set[i]);
        }
        if (kl > 6 && !strncmp(a->set[i], "label.", 6)) {
            char *lk = strndup(a->set[i] + 6, kl - 6);
            if (!labels && !(labels = json_object()))
                bad = 1;
            if (!lk || bad || json_object_set_new(labels, lk, json_string(v)))
                bad = 1;
            free(lk);
        } else if (kl < sizeof(key)) {
            memcpy(key, a->set[i], kl);
            key[kl] = '\0';
            if (!strcmp(key, "dataset")) {
                if (!datasets && !(datasets = json_array()))
                    bad = 1;
                if (bad || json_array_append_new(datasets, json_string(v)))
                    bad = 1;
            } else if (!strcmp(key, "model") || !strcmp(key, "version") ||
                       !strcmp(key, "approver") || !strcmp(key, "approved_at")) {
                if (json_object_get(o, key)) {
                    json_decref(o);
                    json_decref(datasets);
                    json_decref(labels);
                    return cli_usage_error(ctx, verb, "--set %s given twice", key);
                }
                bad = json_object_set_new(o, key, json_string(v));
            } else {
                kl = 0;
            }
        } else {
            kl = 0;
        }
        if (kl == 0 || bad) {
            json_decref(o);
            json_decref(datasets);
            json_decref(labels);
            if (bad)
                return env_fail(ctx, verb, AIOS_E_INVALID_ARGUMENT, "--set '%s': the value is "
                                "not valid UTF-8 text", a->set[i]);
            return cli_usage_error(ctx, verb, "--set '%s': the key is one of model, version, "
                                   "approver, approved_at, dataset, label.NAME", a->set[i]);
        }
    }
    if ((datasets && json_object_set_new(o, "datasets", datasets)) ||
        (labels && json_object_set_new(o, "labels", labels))) {
        json_decref(o);
        return env_fail(ctx, verb, AIOS_E_NOMEM, "out of memory");
    }
    *out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!*out)
        return env_fail(ctx, verb, AIOS_E_NOMEM, "out of memory");
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------ sign */

static void sign_options_from(aios_manifest_sign_options *so, const mf_args *a, progress *p)
{
    so->profile = a->profile;
    so->method = a->method;
    so->hash_type = a->hash;
    so->shard_size = a->shard_size;
    so->allow_symlinks = a->allow_symlinks ? 1u : 0u;
    so->subject_name = a->subject;
    so->stat_cache_path = a->cache;
    hash_options_from(&so->hash, a, p);
}

static int sign_run(cli_ctx *ctx, mf_args *a)
{
    const char *verb = "manifest sign";
    aios_manifest_sign_options so = AIOS_MANIFEST_SIGN_OPTIONS_INIT;
    aios_key *key = NULL;
    aios_manifest *m = NULL;
    aios_buffer *bundle = NULL;
    uint8_t *chain[MF_MAX_CHAIN] = { NULL };
    size_t chain_lens[MF_MAX_CHAIN], nchain = 0;
    char *sig = NULL, *prov = NULL, root[65];
    uint8_t *provbuf = NULL;
    size_t provlen = 0;
    int to_stdout, rc, st;
    progress p;
    struct stat sb;

    if (a->noperands != 1) {
        return a->noperands ? cli_usage_error(ctx, verb, "unexpected argument '%s'", a->operands[1])
                            : cli_usage_error(ctx, verb, "give the model (a directory or a file)");
    }
    if (!a->key)
        return cli_usage_error(ctx, verb, "no signing key: give --key KEY_ID with --keyring, or "
                               "--key pkcs11:...");
    to_stdout = a->output && !strcmp(a->output, "-");
    if (to_stdout && ctx->json)
        return cli_usage_error(ctx, verb, "--json needs a signature file: standard output "
                               "carries the signature");
    if (stat(a->operands[0], &sb) != 0)
        return env_fail(ctx, verb, errno == ENOENT ? AIOS_E_NOT_FOUND : AIOS_E_IO,
                        "cannot read the model %s: %s", a->operands[0], strerror(errno));
    if (!to_stdout) {
        sig = a->output ? strdup(a->output) : default_sig(a->operands[0]);
        if (!sig)
            return env_fail(ctx, verb, AIOS_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < a->nchain; i++)
        if ((rc = load_certs(ctx, verb, a->chain[i], chain, chain_lens, &nchain, MF_MAX_CHAIN))
            != CLI_EXIT_OK)
            goto done;
    if (a->provenance) {
        rc = read_small_file(ctx, verb, a->provenance, "provenance file", MF_PROV_MAX, &provbuf,
                             &provlen);
        if (rc != CLI_EXIT_OK)
            goto done;
        json_error_t err;
        json_t *doc = json_loadb((const char *)provbuf, provlen, JSON_REJECT_DUPLICATES, &err);
        if (!doc || !json_is_object(doc)) {
            rc = env_fail(ctx, verb, AIOS_E_FORMAT, "%s: not a JSON object%s%s", a->provenance,
                          doc ? "" : ": ", doc ? "" : err.text);
            json_decref(doc);
            goto done;
        }
        json_decref(doc);
        prov = (char *)provbuf;
        provbuf = NULL;
    } else if (a->nset && (rc = provenance_from_set(ctx, verb, a, &prov)) != CLI_EXIT_OK) {
        goto done;
    }
    if ((rc = load_key(ctx, verb, a, &key)) != CLI_EXIT_OK)
        goto done;

    progress_init(&p, ctx);
    sign_options_from(&so, a, &p);
    so.bundle_path = sig;
    so.provenance_json = prov;
    so.chain_der = nchain ? (const uint8_t *const *)chain : NULL;
    so.chain_der_lens = nchain ? chain_lens : NULL;
    so.chain_len = nchain;
    st = aios_manifest_sign(to_stdout ? &bundle : NULL, &m, a->operands[0], key, &so);
    progress_end(&p);
    if (st != AIOS_OK) {
        rc = hash_fail(ctx, verb, st);
        goto done;
    }
    root_hex(m, root);
    if (to_stdout) {
        if (env_write_all(STDOUT_FILENO, aios_buffer_data(bundle), aios_buffer_len(bundle)) ||
            env_write_all(STDOUT_FILENO, "\n", 1)) {
            rc = env_fail(ctx, verb, AIOS_E_IO, "cannot write the signature: %s",
                          strerror(errno));
            goto done;
        }
    } else if (ctx->json) {
        json_t *doc = json_pack("{s:b, s:s, s:o, s:o, s:s, s:s, s:s, s:I, s:s, s:o}",
            "ok", 1, "command", verb, "model", cli_json_text(a->operands[0]),
            "signature", cli_json_text(sig),
            "subject", aios_manifest_subject_name(m), "root_digest", root,
            "method", aios_manifest_get_method(m) == AIOS_MANIFEST_SHARDS ? "shards" : "files",
            "resources", (json_int_t)aios_manifest_resource_count(m),
            "hash_type", aios_manifest_hash_type(m), "signer", signer_of(m));
        cli_print_json(doc);
    } else if (!ctx->quiet) {
        char t1[CLI_TEXT_CAP], t2[CLI_TEXT_CAP];
        printf("signed %s: %zu %s, root digest %s\nsignature: %s\n",
               cli_text(t1, sizeof(t1), a->operands[0]), aios_manifest_resource_count(m),
               aios_manifest_get_method(m) == AIOS_MANIFEST_SHARDS ? "shards" : "files", root,
               cli_text(t2, sizeof(t2), sig));
    }
    rc = CLI_EXIT_OK;
done:
    for (size_t i = 0; i < nchain; i++)
        free(chain[i]);
    aios_manifest_unref(m);
    aios_buffer_free(bundle);
    aios_key_unref(key);
    free(provbuf);
    free(prov);            /* the file's bytes, or json_dumps' (malloc) */
    free(sig);
    return rc;
}

/* ------------------------------------------------------------ trust */

static int parse_time(cli_ctx *ctx, const char *verb, const char *s,
                      aios_manifest_verify_options *vo)
{
    uint64_t t;
    if (!s)
        return -1;
    if (!strcmp(s, "leaf-not-before")) {
        vo->time_policy = AIOS_MANIFEST_TIME_LEAF_NOT_BEFORE;
    } else if (!strcmp(s, "now")) {
        vo->time_policy = AIOS_MANIFEST_TIME_NOW;
    } else if (cli_parse_u64(s, &t) == 0 && t <= (uint64_t)INT64_MAX) {
        vo->time_policy = AIOS_MANIFEST_TIME_FIXED;
        vo->fixed_time = (int64_t)t;
    } else {
        return cli_usage_error(ctx, verb, "--time is leaf-not-before, now or a UNIX time");
    }
    return -1;
}

/* Read SIG and verify it with the trust given (or only open it when none is
 * given and may_open).  Returns an exit code; *m on success. */
static int load_manifest(cli_ctx *ctx, const char *verb, mf_args *a, const char *sig,
                         aios_manifest_verify_options *vo, int may_open, aios_manifest **m)
{
    aios_buffer *bundle = NULL;
    aios_key *key = NULL;
    uint8_t *anchors[MF_MAX_ANCHORS];
    size_t anchor_lens[MF_MAX_ANCHORS], nanchors = 0;
    uint8_t *root = NULL;
    size_t root_len = 0;
    int kinds = (a->public_key != NULL) + (a->key != NULL) + (a->nanchors > 0) +
                (a->sigstore_root != NULL), rc, st;

    *m = NULL;
    if (kinds > 1)
        return cli_usage_error(ctx, verb, "give one kind of trust: --public-key, --key, "
                               "--trust-anchor or --sigstore-root");
    if (kinds == 0 && !may_open)
        return cli_usage_error(ctx, verb, "no trust given: --public-key PEM, --key KEY, "
                               "--trust-anchor CA.pem or --sigstore-root ROOT.json");
    if ((rc = parse_time(ctx, verb, a->time, vo)) >= 0)
        return rc;
    st = aios_manifest_read_bundle(&bundle, sig, vo);
    if (st != AIOS_OK)
        return cli_fail(ctx, verb, st);
    if (a->public_key) {
        if ((rc = load_public_key(ctx, verb, a->public_key, &key)) != CLI_EXIT_OK)
            goto done;
        st = aios_manifest_verify_key(m, aios_buffer_data(bundle), aios_buffer_len(bundle), key,
                                      vo);
    } else if (a->key) {
        if ((rc = load_key(ctx, verb, a, &key)) != CLI_EXIT_OK)
            goto done;
        st = aios_manifest_verify_key(m, aios_buffer_data(bundle), aios_buffer_len(bundle), key,
                                      vo);
    } else if (a->nanchors) {
        for (size_t i = 0; i < a->nanchors; i++) {
            rc = read_small_file(ctx, verb, a->anchors[i], "trust anchor", MF_PEM_MAX,
                                 &anchors[nanchors], &anchor_lens[nanchors]);
            if (rc != CLI_EXIT_OK)
                goto done;
            nanchors++;
        }
        st = aios_manifest_verify_certificate(m, aios_buffer_data(bundle),
                                              aios_buffer_len(bundle),
                                              (const uint8_t *const *)anchors, anchor_lens,
                                              nanchors, vo);
    } else if (a->sigstore_root) {
        if ((rc = read_small_file(ctx, verb, a->sigstore_root, "Sigstore trusted root",
                                  (size_t)4 << 20, &root, &root_len)) != CLI_EXIT_OK)
            goto done;
        st = aios_manifest_verify_sigstore(m, aios_buffer_data(bundle), aios_buffer_len(bundle),
                                           root, root_len, a->identity, a->oidc_issuer, vo);
    } else {
        st = aios_manifest_open(m, aios_buffer_data(bundle), aios_buffer_len(bundle), vo);
    }
    if (st != AIOS_OK) {
        rc = env_fail(ctx, verb, st, "%s: %s", sig, env_lib_msg(st));
        goto done;
    }
    rc = CLI_EXIT_OK;
done:
    free(root);
    for (size_t i = 0; i < nanchors; i++)
        free(anchors[i]);
    aios_key_unref(key);
    aios_buffer_free(bundle);
    return rc;
}

/* ------------------------------------------------------------ verify */

static const char *change_name(aios_manifest_change k)
{
    switch (k) {
    case AIOS_MANIFEST_MISSING: return "missing";
    case AIOS_MANIFEST_EXTRA: return "extra";
    case AIOS_MANIFEST_MODIFIED: return "modified";
    case AIOS_MANIFEST_EXTRA_EMPTY: return "extra-empty";
    default: return "changed";
    }
}

/* One line per change.  The paths come from the model and the signature:
 * escaped (cli_text), so that no name can start a line of its own. */
static void print_diff_text(const aios_manifest_diff *d, int shards)
{
    size_t n = aios_manifest_diff_count(d);
    char buf[CLI_TEXT_CAP];
    for (size_t i = 0; i < n; i++) {
        aios_manifest_change k;
        const char *path;
        uint64_t off;
        if (aios_manifest_diff_at(d, i, &k, &path, &off) != AIOS_OK)
            continue;
        path = cli_text(buf, sizeof(buf), path);
        if (k == AIOS_MANIFEST_MODIFIED && !shards)
            printf("  %-12s %s\n", change_name(k), path);
        else if (k == AIOS_MANIFEST_MODIFIED)
            printf("  %-12s %s (first difference in the shard at byte %" PRIu64 ")\n",
                   change_name(k), path, off);
        else if (k == AIOS_MANIFEST_EXTRA_EMPTY)
            printf("  %-12s %s (an empty file no shard manifest can name)\n", change_name(k),
                   path);
        else
            printf("  %-12s %s\n", change_name(k), path);
    }
}

static int verify_run(cli_ctx *ctx, mf_args *a)
{
    const char *verb = "manifest verify";
    aios_manifest_verify_options vo = AIOS_MANIFEST_VERIFY_OPTIONS_INIT;
    aios_manifest *m = NULL;
    aios_manifest_diff *diff = NULL;
    char *sig = NULL, root[65];
    int rc, st;
    progress p;
    struct stat sb;

    if (a->noperands != 1)
        return a->noperands ? cli_usage_error(ctx, verb, "unexpected argument '%s'", a->operands[1])
                            : cli_usage_error(ctx, verb, "give the model (a directory or a file)");
    if (stat(a->operands[0], &sb) != 0)
        return env_fail(ctx, verb, errno == ENOENT ? AIOS_E_NOT_FOUND : AIOS_E_IO,
                        "cannot read the model %s: %s", a->operands[0], strerror(errno));
    sig = a->signature ? strdup(a->signature) : default_sig(a->operands[0]);
    if (!sig)
        return env_fail(ctx, verb, AIOS_E_NOMEM, "out of memory");
    vo.profile = a->profile;
    vo.flags = (a->ignore_unsigned ? AIOS_MANIFEST_VERIFY_IGNORE_UNSIGNED : 0) |
               (a->strict_empty ? AIOS_MANIFEST_VERIFY_STRICT_EMPTY : 0);
    vo.bundle_path = sig;
    if ((rc = load_manifest(ctx, verb, a, sig, &vo, 0, &m)) != CLI_EXIT_OK)
        goto done;

    progress_init(&p, ctx);
    hash_options_from(&vo.hash, a, &p);     /* --include-git, --ignore, --threads */
    st = aios_manifest_verify_dir(m, a->operands[0], &diff, &vo);
    progress_end(&p);
    root_hex(m, root);
    if (st != AIOS_OK && st != AIOS_E_MANIFEST_MISMATCH) {
        rc = hash_fail(ctx, verb, st);
        goto done;
    }
    if (ctx->json) {
        aios_buffer *b = NULL;
        json_t *err = st == AIOS_OK ? NULL : json_pack("{s:s, s:i, s:s, s:s}",
            "status", aios_status_name(st), "code", st,
            "kind", aios_error_kind_name(aios_status_kind(st)), "message", env_lib_msg(st));
        json_t *dj = NULL, *doc;
        if (diff) {
            int jrc = aios_manifest_diff_json(diff, &b);
            dj = lib_json(jrc, b);
        }
        doc = json_pack("{s:b, s:s, s:o, s:o, s:s, s:s, s:o, s:o}",
            "ok", st == AIOS_OK, "command", verb, "model", cli_json_text(a->operands[0]),
            "signature", cli_json_text(sig),
            "subject", aios_manifest_subject_name(m), "root_digest", root,
            "diff", dj ? dj : json_null(), "signer", signer_of(m));
        if (doc && err)
            json_object_set_new(doc, "error", err);
        else
            json_decref(err);
        cli_print_json(doc);
        rc = cli_exit(st);
        goto done;
    }
    if (st == AIOS_E_MANIFEST_MISMATCH) {
        size_t n = diff ? aios_manifest_diff_count(diff) : 0;
        char t1[CLI_TEXT_CAP], t2[CLI_TEXT_CAP];
        printf("%s does NOT match its signature %s: %zu difference%s\n",
               cli_text(t1, sizeof(t1), a->operands[0]), cli_text(t2, sizeof(t2), sig), n,
               n == 1 ? "" : "s");
        if (diff)
            print_diff_text(diff, aios_manifest_get_method(m) == AIOS_MANIFEST_SHARDS);
        fflush(stdout);
        rc = env_fail(ctx, verb, st, "%s: the model's files differ from the signed manifest",
                      a->operands[0]);
        goto done;
    }
    if (!ctx->quiet && diff && aios_manifest_diff_count(diff) > 0) {
        /* Only changes that do not fail: empty files a shard manifest cannot name. */
        fprintf(stderr, "%s %s: note: files the signature does not cover (empty files, which "
                "a shard manifest cannot name; --strict-empty refuses them):\n", ctx->prog, verb);
        for (size_t i = 0; i < aios_manifest_diff_count(diff); i++) {
            const char *path;
            if (aios_manifest_diff_at(diff, i, NULL, &path, NULL) == AIOS_OK) {
                fputs("  ", stderr);
                cli_put_text(stderr, path);
                fputc('\n', stderr);
            }
        }
    }
    if (!ctx->quiet) {
        /* The signer's names come from the bundle: escaped as paths are. */
        json_t *sg = signer_of(m);
        const char *method = json_string_value(json_object_get(sg, "method"));
        char t1[CLI_TEXT_CAP], t2[1024];
        printf("verified %s: %zu resources match, root digest %s\n",
               cli_text(t1, sizeof(t1), a->operands[0]), aios_manifest_resource_count(m), root);
        if (method && !strcmp(method, "certificate"))
            printf("signer: certificate %s (issuer %s)\n",
                   cli_text(t1, sizeof(t1), signer_str(sg, "subject", "?")),
                   cli_text(t2, sizeof(t2), signer_str(sg, "issuer", "?")));
        else if (method && !strcmp(method, "keyless")) {
            /* the time of signing: the Rekor v1 log's, else the timestamp's */
            json_int_t t = json_integer_value(json_object_get(sg, "integrated_time"));
            const char *how = "logged";
            if (t == 0) {
                t = json_integer_value(json_object_get(sg, "timestamp"));
                how = "timestamped";
            }
            printf("signer: keyless %s (issuer %s), Rekor index %lld, %s at %lld\n",
                   cli_text(t1, sizeof(t1), signer_str(sg, "identity", "?")),
                   cli_text(t2, sizeof(t2), signer_str(sg, "oidc_issuer", "?")),
                   (long long)json_integer_value(json_object_get(sg, "log_index")), how,
                   (long long)t);
        } else if (method) {
            const char *hint = signer_str(sg, "hint", NULL);
            printf("signer: key%s%s\n", hint ? " " : "",
                   hint ? cli_text(t1, sizeof(t1), hint) : "");
        }
        json_decref(sg);
    }
    rc = CLI_EXIT_OK;
done:
    aios_manifest_diff_free(diff);
    aios_manifest_unref(m);
    free(sig);
    return rc;
}

/* ------------------------------------------------------------ digest */

static int digest_run(cli_ctx *ctx, mf_args *a)
{
    const char *verb = "manifest digest";
    aios_manifest_sign_options so = AIOS_MANIFEST_SIGN_OPTIONS_INIT;
    aios_manifest *m = NULL;
    char root[65], *sig = NULL;
    int st;
    progress p;
    struct stat sb;

    if (a->noperands != 1)
        return a->noperands ? cli_usage_error(ctx, verb, "unexpected argument '%s'", a->operands[1])
                            : cli_usage_error(ctx, verb, "give the model (a directory or a file)");
    /* Leave the model's signature out, as sign did: SIG, or the default
     * MODEL/model.sig when it exists.  (Nothing is written in hash mode.) */
    if (a->signature) {
        sig = strdup(a->signature);
    } else if ((sig = default_sig(a->operands[0])) && stat(sig, &sb) != 0) {
        free(sig);
        sig = NULL;
    } else if (!sig) {
        return env_fail(ctx, verb, AIOS_E_NOMEM, "out of memory");
    }
    progress_init(&p, ctx);
    sign_options_from(&so, a, &p);
    so.bundle_path = sig;
    st = aios_manifest_hash(&m, a->operands[0], &so);
    free(sig);
    progress_end(&p);
    if (st != AIOS_OK)
        return hash_fail(ctx, verb, st);
    root_hex(m, root);
    if (ctx->json) {
        aios_buffer *b = NULL;
        int jrc = aios_manifest_to_json(m, &b);
        json_t *doc = lib_json(jrc, b);
        if (doc) {
            json_t *full = json_pack("{s:b, s:s, s:s}", "ok", 1, "command", verb, "root_digest",
                                     root);
            if (full) {
                json_object_update_missing(full, doc);
                json_decref(doc);
                doc = full;
            }
        }
        cli_print_json(doc);
    } else {
        printf("%s\n", root);
    }
    aios_manifest_unref(m);
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------ show */

static int show_run(cli_ctx *ctx, mf_args *a)
{
    const char *verb = "manifest show";
    aios_manifest_verify_options vo = AIOS_MANIFEST_VERIFY_OPTIONS_INIT;
    aios_manifest *m = NULL;
    aios_buffer *b = NULL;
    json_t *doc;
    int rc, st;

    if (a->noperands != 1)
        return a->noperands ? cli_usage_error(ctx, verb, "unexpected argument '%s'", a->operands[1])
                            : cli_usage_error(ctx, verb, "give the signature file");
    vo.profile = a->profile;
    if ((rc = load_manifest(ctx, verb, a, a->operands[0], &vo, 1, &m)) != CLI_EXIT_OK)
        return rc;
    st = aios_manifest_to_json(m, &b);
    if (st != AIOS_OK) {
        aios_manifest_unref(m);
        return cli_fail(ctx, verb, st);
    }
    doc = lib_json(st, b);
    if (!doc) {
        aios_manifest_unref(m);
        return env_fail(ctx, verb, AIOS_E_INTERNAL, "the library's manifest JSON does not parse");
    }
    if (ctx->json) {
        json_t *full = json_pack("{s:b, s:s}", "ok", 1, "command", verb);
        if (full) {
            json_object_update_missing(full, doc);
            json_decref(doc);
            doc = full;
        }
    } else if (!aios_manifest_is_verified(m) && !ctx->quiet) {
        fprintf(stderr, "%s %s: NOT verified (give --public-key, --key, --trust-anchor or "
                "--sigstore-root to check the signature)\n", ctx->prog, verb);
    }
    cli_print_json(doc);
    aios_manifest_unref(m);
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------ dispatch */

static int manifest_run(cli_ctx *ctx, int argc, char **argv)
{
    static const struct { const char *name; unsigned action; int (*run)(cli_ctx *, mf_args *); }
    actions[] = {
        { "sign", A_SIGN, sign_run }, { "verify", A_VERIFY, verify_run },
        { "digest", A_DIGEST, digest_run }, { "show", A_SHOW, show_run },
    };
    mf_args *a;
    int rc, i = 1;

    /* Options before the action: --json, --quiet, --help. */
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--json")) {
            ctx->json = 1;
        } else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
            ctx->quiet = 1;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(manifest_usage_head, stdout);
            return CLI_EXIT_OK;
        } else {
            return cli_usage_error(ctx, "manifest", "unknown option '%s' (options go after the "
                                   "action)", argv[i]);
        }
    }
    if (i == argc) {
        fputs(manifest_usage_head, stderr);
        return CLI_EXIT_USAGE;
    }
    for (size_t k = 0; k < sizeof(actions) / sizeof(actions[0]); k++) {
        if (strcmp(argv[i], actions[k].name) != 0)
            continue;
        a = malloc(sizeof(*a));
        if (!a)
            return env_fail(ctx, "manifest", AIOS_E_NOMEM, "out of memory");
        rc = mf_parse(ctx, actions[k].action, argc - i, argv + i, a);
        if (rc < 0)
            rc = actions[k].run(ctx, a);
        free(a);
        return rc;
    }
    return cli_usage_error(ctx, "manifest", "unknown action '%s' (sign, verify, digest, show)",
                           argv[i]);
}

const cli_command cli_cmd_manifest = {
    "manifest", "sign and verify models (OpenSSF Model Signing / OMS manifests)",
    manifest_usage_head, manifest_run
};
