package aios

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// KeyType mirrors aios_key_type: the algorithm of a key.
type KeyType int32

// The key types (include/aios/key.h).
const (
	KeyAES256     KeyType = 1 // AIOS_KEY_AES256: 256-bit symmetric; wraps data keys (KeyUseWrap)
	KeyHMACSHA256 KeyType = 2 // AIOS_KEY_HMAC_SHA256: 256-bit HMAC-SHA-256 key: MAC, pseudonymisation
	KeyBLAKE2b    KeyType = 3 // AIOS_KEY_BLAKE2B: 256-bit keyed BLAKE2b-256: MAC, pseudonymisation
	KeyEd25519    KeyType = 4 // AIOS_KEY_ED25519: Ed25519 signing key (or public key)
	KeyECDSAP256  KeyType = 5 // AIOS_KEY_ECDSA_P256: ECDSA P-256 with SHA-256, DER signatures
	KeyECDSAP384  KeyType = 6 // AIOS_KEY_ECDSA_P384: ECDSA P-384 with SHA-384, DER signatures
	KeyX25519     KeyType = 7 // AIOS_KEY_X25519: X25519 recipient key (or public key)
	KeyRSA        KeyType = 8 // AIOS_KEY_RSA: RSA key in a PKCS#11 token, wraps data keys with RSA-OAEP
	// AIOS_KEY_ECDSA_P521: ECDSA P-521 with SHA-512, DER signatures: signs and
	// verifies as P-256/P-384 do (not yet from a PKCS#11 token or a callback
	// provider: StatusUnsupported).
	KeyECDSAP521 KeyType = 9
)

// KeyTypes lists every key type, in the order of their values.
var KeyTypes = []KeyType{KeyAES256, KeyHMACSHA256, KeyBLAKE2b, KeyEd25519, KeyECDSAP256, KeyECDSAP384, KeyX25519, KeyRSA, KeyECDSAP521}

// LocalKeyTypes are the types a keyring can generate and hold (KeyRSA
// lives only in a PKCS#11 token).
var LocalKeyTypes = []KeyType{KeyAES256, KeyHMACSHA256, KeyBLAKE2b, KeyEd25519, KeyECDSAP256, KeyECDSAP384, KeyX25519, KeyECDSAP521}

// Name returns the stable token of t ("aes256", "hmac-sha256", "blake2b",
// "ed25519", "ecdsa-p256", "ecdsa-p384", "x25519", "rsa", "ecdsa-p521";
// aios_key_type_name), or "" for a value the library does not know.
func (t KeyType) Name() string {
	return goStringOrEmpty(C.aios_key_type_name(C.aios_key_type(t)))
}

// String returns t.Name(), or "KeyType(n)" for an unknown value.
func (t KeyType) String() string {
	if n := t.Name(); n != "" {
		return n
	}
	return "KeyType(" + strconv.FormatInt(int64(t), 10) + ")"
}

// ParseKeyType returns the key type whose Name is name.
func ParseKeyType(name string) (KeyType, error) {
	for _, t := range KeyTypes {
		if t.Name() == name {
			return t, nil
		}
	}
	return 0, newError(StatusInvalidArgument, "aios.ParseKeyType: unknown key type "+strconv.Quote(name))
}

// KeyState mirrors aios_key_state: the lifecycle state of one key version.
type KeyState int32

// The key states (include/aios/key.h).
const (
	KeyActive      KeyState = 1 // AIOS_KEY_ACTIVE: every operation its purposes allow
	KeyDecryptOnly KeyState = 2 // AIOS_KEY_DECRYPT_ONLY: unwrap, verify, agree only: an older version
	KeyDisabled    KeyState = 3 // AIOS_KEY_DISABLED: nothing, until enabled again
	KeyDestroyed   KeyState = 4 // AIOS_KEY_DESTROYED: material wiped for good; metadata kept
	KeyPending     KeyState = 5 // AIOS_KEY_PENDING: added by two-phase rotation: decrypt-only until promoted
)

// KeyStates lists every key state, in the order of their values.
var KeyStates = []KeyState{KeyActive, KeyDecryptOnly, KeyDisabled, KeyDestroyed, KeyPending}

// Name returns the stable token of s ("active", "decrypt-only",
// "disabled", "destroyed", "pending"; aios_key_state_name), or "" for a
// value the library does not know.
func (s KeyState) Name() string {
	return goStringOrEmpty(C.aios_key_state_name(C.aios_key_state(s)))
}

// String returns s.Name(), or "KeyState(n)" for an unknown value.
func (s KeyState) String() string {
	if n := s.Name(); n != "" {
		return n
	}
	return "KeyState(" + strconv.FormatInt(int64(s), 10) + ")"
}

// ParseKeyState returns the key state whose Name is name.
func ParseKeyState(name string) (KeyState, error) {
	for _, s := range KeyStates {
		if s.Name() == name {
			return s, nil
		}
	}
	return 0, newError(StatusInvalidArgument, "aios.ParseKeyState: unknown key state "+strconv.Quote(name))
}

// KeyUse is a set of key purposes (AIOS_KEY_USE_*). A key only does what
// its purposes allow (StatusKeyUsage otherwise), and a type limits which
// purposes make sense.
type KeyUse uint32

// The key purposes.
const (
	KeyUseWrap   KeyUse = C.AIOS_KEY_USE_WRAP   // wrap and unwrap data keys (KeyAES256)
	KeyUseSign   KeyUse = C.AIOS_KEY_USE_SIGN   // sign (Ed25519, ECDSA)
	KeyUseVerify KeyUse = C.AIOS_KEY_USE_VERIFY // verify (Ed25519, ECDSA, also public-only keys)
	KeyUseMAC    KeyUse = C.AIOS_KEY_USE_MAC    // MAC and pseudonymise (HMAC, BLAKE2b)
	KeyUseDerive KeyUse = C.AIOS_KEY_USE_DERIVE // key agreement (X25519)
)

var keyUseNames = []struct {
	u    KeyUse
	name string
}{
	{KeyUseWrap, "wrap"}, {KeyUseSign, "sign"}, {KeyUseVerify, "verify"},
	{KeyUseMAC, "mac"}, {KeyUseDerive, "derive"},
}

// Has reports whether u holds every purpose of want.
func (u KeyUse) Has(want KeyUse) bool { return u&want == want }

// Names returns the purposes in u as tokens ("wrap", "sign", "verify",
// "mac", "derive"), in bit order; unknown bits as "0x..".
func (u KeyUse) Names() []string {
	var names []string
	rest := u
	for _, n := range keyUseNames {
		if u&n.u != 0 {
			names = append(names, n.name)
			rest &^= n.u
		}
	}
	if rest != 0 {
		names = append(names, "0x"+strconv.FormatUint(uint64(rest), 16))
	}
	return names
}

// String joins u.Names() with "|"; "none" for an empty set.
func (u KeyUse) String() string {
	if u == 0 {
		return "none"
	}
	return strings.Join(u.Names(), "|")
}

// ParseKeyUse returns the purpose named name ("wrap", "sign", ...).
func ParseKeyUse(name string) (KeyUse, error) {
	for _, n := range keyUseNames {
		if n.name == name {
			return n.u, nil
		}
	}
	return 0, newError(StatusInvalidArgument, "aios.ParseKeyUse: unknown key purpose "+strconv.Quote(name))
}

// Sizes of key operations' inputs and outputs.
const (
	KeyDataKeyMax = C.AIOS_KEY_DATA_KEY_MAX // the largest data key Wrap accepts (64 bytes)
	KeyWrappedMax = C.AIOS_KEY_WRAPPED_MAX  // the largest wrapped key Wrap returns (1024 bytes)
	KeyMACLen     = C.AIOS_KEY_MAC_LEN      // the length of a MAC (32 bytes)
)

// ------------------------------------------------------------ helpers

// emptyByte is what an empty slice is passed to C as: a valid pointer
// with a length of 0, never NULL.
var emptyByte [1]byte

// bytesArg returns a pointer and a length for b, for the duration of one
// cgo call (the caller keeps b alive with runtime.KeepAlive).
func bytesArg(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return (*C.uint8_t)(unsafe.Pointer(&emptyByte[0])), 0
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}

// stringArg is bytesArg for the bytes of a string (no copy, not
// NUL-terminated).
func stringArg(s string) (*C.char, C.size_t) {
	if len(s) == 0 {
		return (*C.char)(unsafe.Pointer(&emptyByte[0])), 0
	}
	return (*C.char)(unsafe.Pointer(unsafe.StringData(s))), C.size_t(len(s))
}

// cString returns a NUL-terminated C copy of s (free it with freeCString),
// or an ErrInvalid error naming what if s holds a NUL byte, which C would
// take for its end.
func cString(what, s string) (*C.char, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, newError(StatusInvalidArgument, "aios: "+what+" contains a NUL byte")
	}
	return C.CString(s), nil
}

func freeCString(p *C.char) {
	if p != nil {
		C.free(unsafe.Pointer(p))
	}
}

func goStringOrEmpty(p *C.char) string {
	if p == nil {
		return ""
	}
	return C.GoString(p)
}

// takeBytes copies a library buffer into Go memory and frees it (wiping).
func takeBytes(b *C.aios_buffer) []byte {
	n := int(C.aios_buffer_len(b))
	out := make([]byte, n)
	if n > 0 {
		copy(out, unsafe.Slice((*byte)(unsafe.Pointer(C.aios_buffer_data(b))), n))
	}
	C.aios_buffer_free(b)
	return out
}

// unixTime converts the library's unix seconds (0: unknown) to a time.
func unixTime(sec int64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0)
}

// --------------------------------------------------------------- Key

// Key is a handle to one version of a key (aios_key): its metadata and
// the operations it allows. The secret never leaves the handle unless the
// key is exportable and Export is called.
//
// A Key holds one reference to the library's handle: Close drops it, and
// the last reference wipes whatever material the handle holds. Ref returns
// another *Key holding another reference, for a second owner with its own
// Close. A cleanup drops the reference of a Key that is garbage collected
// unclosed; do not rely on it for timely wiping.
//
// The metadata never changes; State can (a keyring may disable or destroy
// the version), and every operation checks the state it has at that
// moment. A Key is safe for concurrent use by any number of goroutines.
// After Close, operations fail with an ErrState error and the metadata
// getters return zero values.
type Key struct {
	h   handle[*C.aios_key]
	kms *kmsState // the callback provider's Go state, for keys it made
}

func freeKey(p *C.aios_key) { C.aios_key_unref(p) }

// newKey wraps a reference the caller owns.
func newKey(p *C.aios_key, kms *kmsState) *Key {
	k := &Key{kms: kms}
	attachHandle(k, &k.h, p, freeKey)
	return k
}

// keyGet runs a getter with the read lock held; the zero value when k is
// nil or closed.
func keyGet[T any](k *Key, get func(p *C.aios_key) T) T {
	var v T
	if k == nil {
		return v
	}
	p, err := k.h.read("Key")
	if err != nil {
		return v
	}
	v = get(p)
	k.h.runlock()
	runtime.KeepAlive(k)
	return v
}

// Ref returns a new *Key for the same key version, holding a reference of
// its own (aios_key_ref): both must be closed.
func (k *Key) Ref() (*Key, error) {
	if k == nil {
		return nil, nilError("Key")
	}
	p, err := k.h.read("Key")
	if err != nil {
		return nil, err
	}
	q := C.aios_key_ref(p)
	k.h.runlock()
	runtime.KeepAlive(k)
	return newKey(q, k.kms), nil
}

// Close drops this Key's reference (aios_key_unref); the last reference
// wipes the handle's material. It is idempotent and always returns nil.
func (k *Key) Close() error {
	if k == nil {
		return nil
	}
	k.h.close(freeKey)
	runtime.KeepAlive(k)
	return nil
}

// ID returns the key's id (aios_key_id); "" after Close.
func (k *Key) ID() string {
	return keyGet(k, func(p *C.aios_key) string { return goStringOrEmpty(C.aios_key_id(p)) })
}

// Version returns the key version this handle names, from 1
// (aios_key_version); 0 after Close.
func (k *Key) Version() uint32 {
	return keyGet(k, func(p *C.aios_key) uint32 { return uint32(C.aios_key_version(p)) })
}

// Type returns the key's algorithm (aios_key_get_type); 0 after Close.
func (k *Key) Type() KeyType {
	return keyGet(k, func(p *C.aios_key) KeyType { return KeyType(C.aios_key_get_type(p)) })
}

// Purposes returns what the key may do (aios_key_purposes); 0 after Close.
func (k *Key) Purposes() KeyUse {
	return keyGet(k, func(p *C.aios_key) KeyUse { return KeyUse(C.aios_key_purposes(p)) })
}

// State returns the version's state now (aios_key_get_state): it can
// change while the handle lives, when its keyring disables, destroys or
// rotates it. 0 after Close.
func (k *Key) State() KeyState {
	return keyGet(k, func(p *C.aios_key) KeyState { return KeyState(C.aios_key_get_state(p)) })
}

// ProviderName returns the name of the key's provider: "local" (a
// keyring), "pkcs11", "callback:<name>" or "public"
// (aios_key_provider_name); "" after Close.
func (k *Key) ProviderName() string {
	return keyGet(k, func(p *C.aios_key) string { return goStringOrEmpty(C.aios_key_provider_name(p)) })
}

// CreatedAt returns when the version was created (aios_key_created_at,
// with a resolution of one second); the zero time when the provider does
// not say, and after Close.
func (k *Key) CreatedAt() time.Time {
	return unixTime(keyGet(k, func(p *C.aios_key) int64 { return int64(C.aios_key_created_at(p)) }))
}

// Exportable reports whether Export may return the secret
// (aios_key_exportable); false after Close.
func (k *Key) Exportable() bool {
	return keyGet(k, func(p *C.aios_key) bool { return C.aios_key_exportable(p) == 1 })
}

// Attribute returns the value of the free-form attribute name (tenant,
// region, data class, ...; aios_key_attribute) and whether the key has it.
func (k *Key) Attribute(name string) (string, bool) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", false
	}
	type res struct {
		v  string
		ok bool
	}
	r := keyGet(k, func(p *C.aios_key) res {
		cname := C.CString(name)
		defer C.free(unsafe.Pointer(cname))
		v := C.aios_key_attribute(p, cname)
		if v == nil {
			return res{}
		}
		return res{C.GoString(v), true}
	})
	return r.v, r.ok
}

// Attributes returns a copy of every attribute of the key
// (aios_key_attribute_count, aios_key_attribute_at); an empty map when it
// has none, nil after Close.
func (k *Key) Attributes() map[string]string {
	return keyGet(k, func(p *C.aios_key) map[string]string {
		n := int(C.aios_key_attribute_count(p))
		m := make(map[string]string, n)
		e := getCErr()
		defer putCErr(e)
		for i := 0; i < n; i++ {
			var name, value *C.char
			if C.aiosgo_key_attribute_at(p, C.size_t(i), &name, &value, e) != C.AIOS_OK {
				break
			}
			m[C.GoString(name)] = goStringOrEmpty(value)
		}
		return m
	})
}

// String describes the key for logs: "id v<version> (<type>, <provider>)".
// It holds no secret.
func (k *Key) String() string {
	if k == nil {
		return "<nil Key>"
	}
	id := k.ID()
	if id == "" {
		return "<closed Key>"
	}
	return strconv.Quote(id) + " v" + strconv.FormatUint(uint64(k.Version()), 10) +
		" (" + k.Type().String() + ", " + k.ProviderName() + ")"
}

// run calls one fallible C operation with the read lock held. op is the
// callback provider host call it may make (kmsNone for operations that
// never call the host); such a call is registered with the provider's Go
// side, so that an error the host's code returned comes back through the
// result. A panic in the host's code is raised again here, once the lock
// is released.
func (k *Key) run(op kmsOp, call func(p *C.aios_key, e *cErr) C.int) error {
	if k == nil {
		return nilError("Key")
	}
	p, err := k.h.read("Key")
	if err != nil {
		return err
	}
	var seq uint64
	if op != kmsNone {
		seq = k.kms.begin()
	}
	e := getCErr()
	defer putCErr(e)
	rc := call(p, e)
	k.h.runlock()
	runtime.KeepAlive(k)
	return k.kms.finish(seq, rc, e)
}

// Wrap wraps a data key (1..KeyDataKeyMax bytes) under this key, which
// must have KeyUseWrap and be active (aios_key_wrap). ad (which may be
// empty) is bound to the result: Unwrap needs the same ad. The result is
// opaque, specific to the provider and the key version, and at most
// KeyWrappedMax bytes. dataKey is not modified; Wipe it when done.
//
// Errors: StatusKeyUsage (not a wrapping key), StatusKeyDecryptOnly (an
// older version: rotate made another primary), StatusKeyDisabled,
// StatusKeyDestroyed, StatusKeyExpired, StatusKeyUsageLimit, and for a
// callback provider StatusProviderTimeout or the host's own error.
func (k *Key) Wrap(dataKey, ad []byte) ([]byte, error) {
	var out *C.aios_buffer
	err := k.run(kmsWrap, func(p *C.aios_key, e *cErr) C.int {
		dp, dn := bytesArg(dataKey)
		ap, an := bytesArg(ad)
		return C.aiosgo_key_wrap(p, &out, dp, dn, ap, an, e)
	})
	runtime.KeepAlive(dataKey)
	runtime.KeepAlive(ad)
	if err != nil {
		return nil, err
	}
	return takeBytes(out), nil
}

// Unwrap recovers a data key that Wrap wrapped under this key version
// with the same ad (aios_key_unwrap), into a new secure Buffer: close it
// when done. Decrypt-only and pending versions unwrap too.
//
// Errors: ErrAuth (StatusAuth) when wrapped or ad was changed or another
// key wrapped it; StatusKeyDisabled (also below the keyring's minimum
// decrypt version), StatusKeyDestroyed, StatusKeyUsage.
func (k *Key) Unwrap(wrapped, ad []byte) (*Buffer, error) {
	var out *C.aios_buffer
	err := k.run(kmsUnwrap, func(p *C.aios_key, e *cErr) C.int {
		wp, wn := bytesArg(wrapped)
		ap, an := bytesArg(ad)
		return C.aiosgo_key_unwrap(p, &out, wp, wn, ap, an, e)
	})
	runtime.KeepAlive(wrapped)
	runtime.KeepAlive(ad)
	if err != nil {
		return nil, err
	}
	return newBuffer(out), nil
}

// Sign signs msg (aios_key_sign): a 64-byte Ed25519 signature, or a DER
// ECDSA signature over the curve's hash of msg (deterministic, RFC 6979,
// for keys held in this process). The key needs KeyUseSign and must be
// active.
func (k *Key) Sign(msg []byte) ([]byte, error) {
	var out *C.aios_buffer
	err := k.run(kmsSign, func(p *C.aios_key, e *cErr) C.int {
		mp, mn := bytesArg(msg)
		return C.aiosgo_key_sign(p, &out, mp, mn, e)
	})
	runtime.KeepAlive(msg)
	if err != nil {
		return nil, err
	}
	return takeBytes(out), nil
}

// Verify reports whether sig is a valid signature of msg by this key
// (aios_key_verify). An invalid signature is (false, nil); the error is
// for everything else: a key that cannot verify (StatusKeyUsage), a
// disabled or destroyed version, a closed handle.
func (k *Key) Verify(sig, msg []byte) (bool, error) {
	err := k.run(kmsNone, func(p *C.aios_key, e *cErr) C.int {
		sp, sn := bytesArg(sig)
		mp, mn := bytesArg(msg)
		return C.aiosgo_key_verify(p, sp, sn, mp, mn, e)
	})
	runtime.KeepAlive(sig)
	runtime.KeepAlive(msg)
	if err != nil {
		if errors.Is(err, StatusAuth) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// MAC returns the HMAC-SHA-256 or keyed BLAKE2b-256 of msg under this key
// (aios_key_mac): a stable pseudonym for the same key version and input.
// The key needs KeyUseMAC.
func (k *Key) MAC(msg []byte) ([KeyMACLen]byte, error) {
	var mac [KeyMACLen]byte
	err := k.run(kmsNone, func(p *C.aios_key, e *cErr) C.int {
		mp, mn := bytesArg(msg)
		return C.aiosgo_key_mac(p, (*C.uint8_t)(unsafe.Pointer(&mac[0])), mp, mn, e)
	})
	runtime.KeepAlive(msg)
	if err != nil {
		return [KeyMACLen]byte{}, err
	}
	return mac, nil
}

// Agree runs X25519 between this key and a peer's 32-byte public key
// (aios_key_agree) and returns the 32-byte shared secret in a new secure
// Buffer. The key needs KeyUseDerive. ErrAuth (StatusAuth) for a
// low-order peer key.
func (k *Key) Agree(peerPublic []byte) (*Buffer, error) {
	var out *C.aios_buffer
	err := k.run(kmsNone, func(p *C.aios_key, e *cErr) C.int {
		pp, pn := bytesArg(peerPublic)
		return C.aiosgo_key_agree(p, &out, pp, pn, e)
	})
	runtime.KeepAlive(peerPublic)
	if err != nil {
		return nil, err
	}
	return newBuffer(out), nil
}

// PublicPEM returns the public key as SubjectPublicKeyInfo PEM text
// (aios_key_public_pem). StatusKeyUsage for a symmetric key.
func (k *Key) PublicPEM() (string, error) {
	var out *C.aios_buffer
	err := k.run(kmsNone, func(p *C.aios_key, e *cErr) C.int {
		return C.aiosgo_key_public_pem(p, &out, e)
	})
	if err != nil {
		return "", err
	}
	b := takeBytes(out)
	// The library's length excludes the terminating NUL; be lenient.
	return strings.TrimRight(string(b), "\x00"), nil
}

// PublicRaw returns the public key as raw bytes (aios_key_public_raw): 32
// bytes for Ed25519 and X25519, the uncompressed point for ECDSA.
// StatusKeyUsage for a symmetric key.
func (k *Key) PublicRaw() ([]byte, error) {
	var out *C.aios_buffer
	err := k.run(kmsNone, func(p *C.aios_key, e *cErr) C.int {
		return C.aiosgo_key_public_raw(p, &out, e)
	})
	if err != nil {
		return nil, err
	}
	return takeBytes(out), nil
}

// Export returns the secret in a new secure Buffer (aios_key_export): the
// raw 32 bytes of a symmetric key, or PKCS#8 PEM of a private key. Only
// keys created or imported exportable allow it
// (StatusKeyNotExportable otherwise), and never keys inside a token or a
// host's KMS.
func (k *Key) Export() (*Buffer, error) {
	var out *C.aios_buffer
	err := k.run(kmsNone, func(p *C.aios_key, e *cErr) C.int {
		return C.aiosgo_key_export(p, &out, e)
	})
	if err != nil {
		return nil, err
	}
	return newBuffer(out), nil
}

// KeyFromPublicPEM returns a public-only key from SubjectPublicKeyInfo PEM
// (aios_key_from_public_pem): Ed25519, X25519, ECDSA P-256, P-384 or P-521, with
// provider "public", version 1 and purpose KeyUseVerify (for X25519: a
// recipient to seal to). keyID names it; with "" the key's id is the
// SHA-256 fingerprint of its public key in hex.
func KeyFromPublicPEM(pem string, keyID string) (*Key, error) {
	var cid *C.char
	if keyID != "" {
		var err error
		if cid, err = cString("KeyFromPublicPEM: keyID", keyID); err != nil {
			return nil, err
		}
		defer freeCString(cid)
	}
	var out *C.aios_key
	pp, pn := stringArg(pem)
	e := getCErr()
	defer putCErr(e)
	rc := C.aiosgo_key_from_public_pem(&out, cid, pp, pn, e)
	runtime.KeepAlive(pem)
	if err := errorFrom(rc, e); err != nil {
		return nil, err
	}
	return newKey(out, nil), nil
}
