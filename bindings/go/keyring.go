package aios

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"bytes"
	"encoding/json"
	"math"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// PKCS11Unlock names the AES key in a PKCS#11 token that wraps a
// keyring's master key (AIOS_KEYRING_UNLOCK_PKCS11).
type PKCS11Unlock struct {
	Module string // path of the PKCS#11 module; "" for the URI's module-path
	URI    string // RFC 7512 URI of the AES key, for example "pkcs11:token=t;object=master"
	PIN    string // the user PIN; "" for the URI's pin-source or pin-value
}

// KeyringOptions says how CreateKeyring and OpenKeyring get the master
// key, and how they behave (aios_keyring_options).
//
// Set exactly one of Passphrase, MasterKey and PKCS11. The secrets
// (passphrase, master key, PIN) are copied into guarded C memory for the
// duration of the call only, and that copy is wiped before the call
// returns; the binding makes no Go copy of them. The caller's slices are
// left as they were: Wipe them when done.
type KeyringOptions struct {
	// Passphrase unlocks with Argon2id over the passphrase
	// (AIOS_KEYRING_UNLOCK_PASSPHRASE); the parameters are stored in the
	// file when it is created.
	Passphrase []byte
	// MasterKey is a raw 32-byte master key from the host
	// (AIOS_KEYRING_UNLOCK_RAW_KEY).
	MasterKey []byte
	// PKCS11 unlocks with an AES key in a token
	// (AIOS_KEYRING_UNLOCK_PKCS11).
	PKCS11 *PKCS11Unlock

	// Argon2Ops and Argon2Mem (bytes) are the Argon2id parameters used
	// when a passphrase keyring is created; 0 means the library's defaults
	// (3 passes, 64 MiB). Opening reads them from the file.
	Argon2Ops uint64
	Argon2Mem uint64
	// ReadOnly opens without taking the writer lock
	// (AIOS_KEYRING_READ_ONLY): keys can be used, changes fail with an
	// ErrState error.
	ReadOnly bool
	// LockTimeout is how long to wait for the writer lock held by another
	// process or Keyring (0: fail at once with StatusKeyringLocked). It is
	// rounded up to whole milliseconds.
	LockTimeout time.Duration
}

// millis converts d to whole milliseconds, rounded up, for a uint32_t
// field.
func millis(what string, d time.Duration) (C.uint32_t, error) {
	if d < 0 {
		return 0, newError(StatusInvalidArgument, "aios: "+what+" is negative: "+d.String())
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms > math.MaxUint32 {
		return 0, newError(StatusInvalidArgument, "aios: "+what+" is over 2^32 ms: "+d.String())
	}
	return C.uint32_t(ms), nil
}

// Keyring is an open keyring file (aios_keyring): named keys with all
// their versions, encrypted at rest under a master key. Every change is
// written atomically and durably before the method returns; a second
// writer is locked out (StatusKeyringLocked); any change to the file is
// detected (StatusKeyringTampered).
//
// A Keyring is safe for concurrent use: any number of goroutines may get
// keys and use them while another rotates, disables or destroys (the
// library locks internally). Close it to release the writer lock and wipe
// the keys it holds in memory; Keys taken from it stay valid.
type Keyring struct {
	h handle[*C.aios_keyring]
}

func freeKeyring(p *C.aios_keyring) { C.aios_keyring_free(p) }

func openKeyring(create bool, path string, opts KeyringOptions) (*Keyring, error) {
	fn := "aios.OpenKeyring"
	if create {
		fn = "aios.CreateKeyring"
	}
	var unlock C.int
	var secret []byte
	n := 0
	if opts.Passphrase != nil {
		n++
		unlock, secret = C.AIOS_KEYRING_UNLOCK_PASSPHRASE, opts.Passphrase
	}
	if opts.MasterKey != nil {
		n++
		unlock, secret = C.AIOS_KEYRING_UNLOCK_RAW_KEY, opts.MasterKey
	}
	if opts.PKCS11 != nil {
		n++
		unlock = C.AIOS_KEYRING_UNLOCK_PKCS11
	}
	if n != 1 {
		return nil, newError(StatusInvalidArgument, fn+": set exactly one of Passphrase, MasterKey and PKCS11 in KeyringOptions")
	}
	timeout, err := millis(fn+": LockTimeout", opts.LockTimeout)
	if err != nil {
		return nil, err
	}
	cpath, err := cString(fn+": path", path)
	if err != nil {
		return nil, err
	}
	defer freeCString(cpath)

	var module, uri *C.char
	var pin string
	hasPin := C.int(0)
	if u := opts.PKCS11; u != nil {
		if u.Module != "" {
			if module, err = cString(fn+": PKCS11.Module", u.Module); err != nil {
				return nil, err
			}
			defer freeCString(module)
		}
		if uri, err = cString(fn+": PKCS11.URI", u.URI); err != nil {
			return nil, err
		}
		defer freeCString(uri)
		if u.PIN != "" {
			if strings.IndexByte(u.PIN, 0) >= 0 {
				return nil, newError(StatusInvalidArgument, fn+": PKCS11.PIN contains a NUL byte")
			}
			pin, hasPin = u.PIN, 1
		}
	}
	var flags C.uint32_t
	if opts.ReadOnly {
		flags |= C.AIOS_KEYRING_READ_ONLY
	}
	cc := C.int(0)
	if create {
		cc = 1
	}

	var secretPtr *C.uint8_t
	var secretLen C.size_t
	if secret != nil {
		secretPtr, secretLen = bytesArg(secret)
	}
	pinPtr, pinLen := stringArg(pin)
	var out *C.aios_keyring
	e := getCErr()
	defer putCErr(e)
	rc := C.aiosgo_keyring_open(cc, &out, cpath, unlock, secretPtr, secretLen, module, uri,
		(*C.uint8_t)(unsafe.Pointer(pinPtr)), pinLen, hasPin,
		C.uint64_t(opts.Argon2Ops), C.uint64_t(opts.Argon2Mem), flags, timeout, e)
	runtime.KeepAlive(secret)
	runtime.KeepAlive(pin)
	if err := errorFrom(rc, e); err != nil {
		return nil, err
	}
	kr := &Keyring{}
	attachHandle(kr, &kr.h, out, freeKeyring)
	return kr, nil
}

// CreateKeyring creates a new, empty keyring file at path
// (aios_keyring_create) and returns it open for writing. StatusKeyExists
// if path exists.
func CreateKeyring(path string, opts KeyringOptions) (*Keyring, error) {
	return openKeyring(true, path, opts)
}

// OpenKeyring opens an existing keyring file (aios_keyring_open).
//
// Errors: StatusKeyringPassphrase (ErrAuth) for a wrong passphrase or
// master key, StatusKeyringTampered (ErrAuth) for a changed file,
// StatusKeyringCorrupt for a truncated or malformed one,
// StatusKeyringLocked when another writer holds it (see LockTimeout and
// ReadOnly).
func OpenKeyring(path string, opts KeyringOptions) (*Keyring, error) {
	return openKeyring(false, path, opts)
}

// Close releases the writer lock, wipes every key the Keyring holds in
// memory and frees it (aios_keyring_free): at once, or, if calls are still
// running on the Keyring, when the last of them returns (Close does not
// wait). Keys taken from it stay valid; a Provider from its Provider
// method does not. Idempotent; always nil.
func (kr *Keyring) Close() error {
	if kr == nil {
		return nil
	}
	kr.h.close(freeKeyring)
	runtime.KeepAlive(kr)
	return nil
}

// use runs fn with the keyring's read lock: the library locks internally,
// so every method but Close may run concurrently.
func (kr *Keyring) use(fn func(p *C.aios_keyring, e *cErr) C.int) error {
	if kr == nil {
		return nilError("Keyring")
	}
	p, err := kr.h.read("Keyring")
	if err != nil {
		return err
	}
	e := getCErr()
	defer putCErr(e)
	rc := fn(p, e)
	kr.h.runlock()
	runtime.KeepAlive(kr)
	return errorFrom(rc, e)
}

// withID is use with key_id as a C string.
func (kr *Keyring) withID(what, id string, fn func(p *C.aios_keyring, cid *C.char, e *cErr) C.int) error {
	cid, err := cString("Keyring."+what+": key id", id)
	if err != nil {
		return err
	}
	defer freeCString(cid)
	return kr.use(func(p *C.aios_keyring, e *cErr) C.int { return fn(p, cid, e) })
}

// keyOut runs a function that returns a new key handle.
func (kr *Keyring) keyOut(what, id string, fn func(p *C.aios_keyring, out **C.aios_key, cid *C.char, e *cErr) C.int) (*Key, error) {
	var out *C.aios_key
	err := kr.withID(what, id, func(p *C.aios_keyring, cid *C.char, e *cErr) C.int {
		return fn(p, &out, cid, e)
	})
	if err != nil {
		return nil, err
	}
	return newKey(out, nil), nil
}

// Reload reads the file again (aios_keyring_reload), to see what another
// process changed. Keys already taken keep their material but see state
// changes.
func (kr *Keyring) Reload() error {
	return kr.use(func(p *C.aios_keyring, e *cErr) C.int { return C.aiosgo_keyring_reload(p, e) })
}

// KeySpec says what a new key is (aios_key_spec). The zero value asks for
// the type's natural purposes, not exportable, no attributes, no limits.
type KeySpec struct {
	Purposes   KeyUse            // 0: the natural purposes of the type
	Exportable bool              // Key.Export allowed
	Attributes map[string]string // at most 64; names 1..64 bytes, values 0..1024 bytes of UTF-8
	MaxUses    uint64            // wrap/sign/MAC operations per version; 0: no limit
	NotAfter   time.Time         // after this, the version only unwraps/verifies; zero: never
}

// pack returns the attributes as "name\0value\0..." sorted by name (so the
// library sees the same order every time), and their count.
func (s *KeySpec) pack() ([]byte, int, error) {
	if len(s.Attributes) == 0 {
		return nil, 0, nil
	}
	names := make([]string, 0, len(s.Attributes))
	for name := range s.Attributes {
		names = append(names, name)
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, name := range names {
		value := s.Attributes[name]
		if strings.IndexByte(name, 0) >= 0 || strings.IndexByte(value, 0) >= 0 {
			return nil, 0, newError(StatusInvalidArgument, "aios: attribute "+strconv.Quote(name)+" contains a NUL byte")
		}
		b.WriteString(name)
		b.WriteByte(0)
		b.WriteString(value)
		b.WriteByte(0)
	}
	return b.Bytes(), len(names), nil
}

func (kr *Keyring) add(what, id string, t KeyType, material []byte, importing bool, spec KeySpec) (*Key, error) {
	attrs, nattrs, err := spec.pack()
	if err != nil {
		return nil, err
	}
	var notAfter int64
	if !spec.NotAfter.IsZero() {
		notAfter = spec.NotAfter.Unix()
	}
	exportable := C.uint32_t(0)
	if spec.Exportable {
		exportable = 1
	}
	k, err := kr.keyOut(what, id, func(p *C.aios_keyring, out **C.aios_key, cid *C.char, e *cErr) C.int {
		var mp *C.uint8_t
		var mn C.size_t
		if importing {
			mp, mn = bytesArg(material)
		}
		var ap *C.char
		if nattrs > 0 {
			ap = (*C.char)(unsafe.Pointer(&attrs[0]))
		}
		return C.aiosgo_keyring_add(p, out, cid, C.int(t), mp, mn, C.uint32_t(spec.Purposes), exportable,
			ap, C.size_t(nattrs), C.uint64_t(spec.MaxUses), C.int64_t(notAfter), e)
	})
	runtime.KeepAlive(material)
	runtime.KeepAlive(attrs)
	return k, err
}

// Add generates a new key named id (aios_keyring_add): version 1, active,
// primary. StatusKeyExists if the keyring has a key of that id;
// StatusKeyUsage for purposes the type does not allow.
func (kr *Keyring) Add(id string, t KeyType, spec KeySpec) (*Key, error) {
	return kr.add("Add", id, t, nil, false, spec)
}

// Import adds existing material as a new key named id
// (aios_keyring_import): the raw 32 bytes of a symmetric key, or a PKCS#8
// PEM private key (Ed25519, X25519, ECDSA P-256/P-384) whose algorithm
// matches t. The library copies material into guarded memory; Wipe
// yours when done.
func (kr *Keyring) Import(id string, t KeyType, material []byte, spec KeySpec) (*Key, error) {
	return kr.add("Import", id, t, material, true, spec)
}

// Get returns a handle to version of key id (aios_keyring_get); version 0
// means the primary version. StatusKeyNotFound, StatusKeyVersionNotFound
// (both ErrNotFound).
func (kr *Keyring) Get(id string, version uint32) (*Key, error) {
	return kr.keyOut("Get", id, func(p *C.aios_keyring, out **C.aios_key, cid *C.char, e *cErr) C.int {
		return C.aiosgo_keyring_get(p, out, cid, C.uint32_t(version), e)
	})
}

// Rotate adds a new version of key id and makes it primary at once
// (aios_keyring_rotate); the previous primary becomes decrypt-only. It
// returns the new version.
func (kr *Keyring) Rotate(id string) (*Key, error) {
	return kr.keyOut("Rotate", id, func(p *C.aios_keyring, out **C.aios_key, cid *C.char, e *cErr) C.int {
		return C.aiosgo_keyring_rotate(p, out, cid, e)
	})
}

// AddVersion adds a pending version of key id
// (aios_keyring_add_version), the first step of a two-phase rotation for
// fleets that read the keyring at different times: hosts learn it and can
// decrypt with it; once every host has it, Promote makes it primary.
func (kr *Keyring) AddVersion(id string) (*Key, error) {
	return kr.keyOut("AddVersion", id, func(p *C.aios_keyring, out **C.aios_key, cid *C.char, e *cErr) C.int {
		return C.aiosgo_keyring_add_version(p, out, cid, e)
	})
}

// ImportVersion rotates key id to material of the caller's own (bring
// your own key, aios_keyring_import_version): it becomes the key's next
// version and is returned. The material is what Import takes for the
// key's type: the raw 32 bytes of a symmetric key, or a PKCS#8 PEM private
// key of the same algorithm (StatusFormat otherwise). By default the new
// version is primary at once and the previous primary decrypt-only, as
// with Rotate; with pending it is added pending, as with AddVersion, for
// Promote later. StatusKeyNotFound for an unknown id; StatusKeyExists for
// material a version of the key already holds. The library copies
// material into guarded memory; Wipe yours when done.
func (kr *Keyring) ImportVersion(id string, material []byte, pending bool) (*Key, error) {
	var flags C.uint32_t
	if pending {
		flags = C.AIOS_KEYRING_IMPORT_PENDING
	}
	k, err := kr.keyOut("ImportVersion", id, func(p *C.aios_keyring, out **C.aios_key, cid *C.char, e *cErr) C.int {
		mp, mn := bytesArg(material)
		return C.aiosgo_keyring_import_version(p, out, cid, mp, mn, flags, e)
	})
	runtime.KeepAlive(material)
	return k, err
}

// Promote makes version of key id its primary version
// (aios_keyring_promote); the previous primary becomes decrypt-only.
func (kr *Keyring) Promote(id string, version uint32) error {
	return kr.withID("Promote", id, func(p *C.aios_keyring, cid *C.char, e *cErr) C.int {
		return C.aiosgo_keyring_promote(p, cid, C.uint32_t(version), e)
	})
}

// SetState changes the state of one version (aios_keyring_set_state):
// KeyDisabled, and back to KeyActive or KeyDecryptOnly. The primary
// version cannot be disabled or made decrypt-only: rotate first. Handles
// already taken see the change at their next operation.
func (kr *Keyring) SetState(id string, version uint32, state KeyState) error {
	return kr.withID("SetState", id, func(p *C.aios_keyring, cid *C.char, e *cErr) C.int {
		return C.aiosgo_keyring_set_state(p, cid, C.uint32_t(version), C.int(state), e)
	})
}

// Destroy wipes the material of one version for good
// (aios_keyring_destroy); not the primary's. Its metadata stays, so data
// wrapped under it fails with StatusKeyDestroyed rather than looking
// corrupt, also through handles taken before.
func (kr *Keyring) Destroy(id string, version uint32) error {
	return kr.withID("Destroy", id, func(p *C.aios_keyring, cid *C.char, e *cErr) C.int {
		return C.aiosgo_keyring_destroy(p, cid, C.uint32_t(version), e)
	})
}

// SetMinDecryptVersion makes versions of key id below version stop
// decrypting (aios_keyring_set_min_decrypt_version): they fail with
// StatusKeyDisabled.
func (kr *Keyring) SetMinDecryptVersion(id string, version uint32) error {
	return kr.withID("SetMinDecryptVersion", id, func(p *C.aios_keyring, cid *C.char, e *cErr) C.int {
		return C.aiosgo_keyring_set_min_decrypt_version(p, cid, C.uint32_t(version), e)
	})
}

// ListJSON returns aios_keyring_list_json unparsed: every key and version
// with its metadata, as a JSON document. It holds no secret.
func (kr *Keyring) ListJSON() (string, error) {
	var out *C.aios_buffer
	err := kr.use(func(p *C.aios_keyring, e *cErr) C.int { return C.aiosgo_keyring_list_json(p, &out, e) })
	if err != nil {
		return "", err
	}
	return string(takeBytes(out)), nil
}

// KeyringKey describes one key of a keyring (an element of List).
type KeyringKey struct {
	ID                string            `json:"id"`
	Type              KeyType           `json:"type"`
	Purposes          KeyUse            `json:"purposes"`
	Exportable        bool              `json:"exportable"`
	Primary           uint32            `json:"primary"`             // the primary version
	MinDecryptVersion uint32            `json:"min_decrypt_version"` // versions below it do not decrypt
	Attributes        map[string]string `json:"attributes"`
	Versions          []KeyringVersion  `json:"versions"`
}

// KeyringVersion describes one version of a key.
type KeyringVersion struct {
	Version   uint32    `json:"version"`
	State     KeyState  `json:"state"`
	CreatedAt time.Time `json:"created_at"` // zero when unknown
	Uses      uint64    `json:"uses"`       // wrap/sign/MAC operations so far
	MaxUses   uint64    `json:"max_uses"`   // 0: no limit
	NotAfter  time.Time `json:"not_after"`  // zero: never
}

// UnmarshalJSON reads a version as the library writes it: times in unix
// seconds, 0 for none (RFC 3339 strings are accepted too).
func (v *KeyringVersion) UnmarshalJSON(data []byte) error {
	var raw struct {
		Version   uint32          `json:"version"`
		State     KeyState        `json:"state"`
		CreatedAt json.RawMessage `json:"created_at"`
		Uses      uint64          `json:"uses"`
		MaxUses   uint64          `json:"max_uses"`
		NotAfter  json.RawMessage `json:"not_after"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*v = KeyringVersion{Version: raw.Version, State: raw.State, Uses: raw.Uses, MaxUses: raw.MaxUses}
	var err error
	if v.CreatedAt, err = jsonTime(raw.CreatedAt); err != nil {
		return err
	}
	v.NotAfter, err = jsonTime(raw.NotAfter)
	return err
}

// jsonTime reads unix seconds (0: the zero time) or an RFC 3339 string.
func jsonTime(raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	var sec int64
	if err := json.Unmarshal(raw, &sec); err == nil {
		return unixTime(sec), nil
	}
	var t time.Time
	err := json.Unmarshal(raw, &t)
	return t, err
}

// Version returns the entry of version n, if the key has it.
func (k KeyringKey) Version(n uint32) (KeyringVersion, bool) {
	for _, v := range k.Versions {
		if v.Version == n {
			return v, true
		}
	}
	return KeyringVersion{}, false
}

// List returns every key and version with its metadata
// (aios_keyring_list_json, parsed), in the library's order.
func (kr *Keyring) List() ([]KeyringKey, error) {
	raw, err := kr.ListJSON()
	if err != nil {
		return nil, err
	}
	var doc struct {
		Keys []KeyringKey `json:"keys"`
	}
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		return nil, newError(StatusInternal, "aios.Keyring.List: cannot parse aios_keyring_list_json(): "+err.Error())
	}
	return doc.Keys, nil
}

// Provider returns the keyring as a key provider ("local";
// aios_keyring_provider). The Provider is borrowed: it keeps the Keyring
// from being garbage collected, fails with ErrState once the Keyring is
// closed, and its Close only forgets it.
func (kr *Keyring) Provider() (*Provider, error) {
	if kr == nil {
		return nil, nilError("Keyring")
	}
	p, err := kr.h.read("Keyring")
	if err != nil {
		return nil, err
	}
	pp := C.aios_keyring_provider(p)
	kr.h.runlock()
	runtime.KeepAlive(kr)
	if pp == nil {
		return nil, newError(StatusInternal, "aios.Keyring.Provider: the library returned no provider")
	}
	pr := &Provider{parent: kr}
	pr.h.ptr = pp // borrowed: nothing to free, so no cleanup
	return pr, nil
}

// ------------------------------------------------- JSON of the enums

// MarshalText returns t's name.
func (t KeyType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalJSON accepts a name ("ed25519") or the number.
func (t *KeyType) UnmarshalJSON(data []byte) error {
	var name string
	if err := json.Unmarshal(data, &name); err == nil {
		v, err := ParseKeyType(name)
		if err != nil {
			return err
		}
		*t = v
		return nil
	}
	var n int32
	if err := json.Unmarshal(data, &n); err != nil {
		return err
	}
	*t = KeyType(n)
	return nil
}

// MarshalText returns s's name.
func (s KeyState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalJSON accepts a name ("decrypt-only") or the number.
func (s *KeyState) UnmarshalJSON(data []byte) error {
	var name string
	if err := json.Unmarshal(data, &name); err == nil {
		v, err := ParseKeyState(name)
		if err != nil {
			return err
		}
		*s = v
		return nil
	}
	var n int32
	if err := json.Unmarshal(data, &n); err != nil {
		return err
	}
	*s = KeyState(n)
	return nil
}

// MarshalJSON returns u as a list of names: ["sign","verify"].
func (u KeyUse) MarshalJSON() ([]byte, error) {
	names := u.Names()
	if names == nil {
		names = []string{}
	}
	return json.Marshal(names)
}

// UnmarshalJSON accepts a list of names (["sign","verify"]), one name, or
// the number.
func (u *KeyUse) UnmarshalJSON(data []byte) error {
	var names []string
	if err := json.Unmarshal(data, &names); err != nil {
		var name string
		if err := json.Unmarshal(data, &name); err != nil {
			var n uint32
			if err := json.Unmarshal(data, &n); err != nil {
				return err
			}
			*u = KeyUse(n)
			return nil
		}
		names = []string{name}
	}
	var v KeyUse
	for _, name := range names {
		b, err := ParseKeyUse(name)
		if err != nil {
			return err
		}
		v |= b
	}
	*u = v
	return nil
}
