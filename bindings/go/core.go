package aios

/*
#cgo pkg-config: aios
#include "shim.h"
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"unsafe"
)

// Init initialises libaios and the libraries it links, detects CPU
// features and runs the power-on self-test once (aios_init). It is
// idempotent and safe for concurrent use: the first call does the work and
// later calls return its result. Every function that needs the library
// initialises it, so an explicit call is only needed to fix the moment of
// initialisation or to check its result.
func Init() error {
	e := getCErr()
	defer putCErr(e)
	return errorFrom(C.aiosgo_init(e), e)
}

// ------------------------------------------------------------- versions

// The version of the libaios headers this package was compiled against
// (AIOS_VERSION_NUMBER, AIOS_VERSION_STRING, AIOS_ABI_VERSION); compare
// them with VersionNumber, VersionString and AbiVersion to detect a
// header/library mismatch.
const (
	HeaderVersionNumber uint32 = C.AIOS_VERSION_NUMBER // 0xMMmmpp
	HeaderVersionString        = C.AIOS_VERSION_STRING // "MAJOR.MINOR.PATCH"
	HeaderAbiVersion    uint32 = C.AIOS_ABI_VERSION    // the N in libaios.so.N
)

// VersionString returns the version of the loaded library, for example
// "1.2.3" (aios_version_string). Like VersionNumber and AbiVersion it does
// not initialise the library, so it may be called before SetAllocator.
func VersionString() string {
	return C.GoString(C.aios_version_string())
}

// VersionNumber returns the version of the loaded library as 0xMMmmpp: one
// byte each for major, minor and patch (aios_version_number).
func VersionNumber() uint32 {
	return uint32(C.aios_version_number())
}

// AbiVersion returns the ABI version of the loaded library, the N in
// libaios.so.N (aios_abi_version). A library with another ABI version than
// HeaderAbiVersion is not compatible with this build of the package.
func AbiVersion() uint32 {
	return uint32(C.aios_abi_version())
}

// Build describes the loaded library's build (aios_build_info). Fields a
// newer library adds appear in Raw.
type Build struct {
	Version      string            `json:"version"`      // the libaios version
	ABI          int               `json:"abi"`          // the N in libaios.so.N
	Dependencies map[string]string `json:"dependencies"` // "libsodium", "mbedtls", "protobuf-c": version
	CPU          map[string]bool   `json:"cpu"`          // CPU features detected: "aesni", "avx2", "sha_ni", ...
	Uses         map[string]string `json:"uses"`         // implementation choices, for example "bulk_aead"
	Config       BuildConfig       `json:"build"`        // how the library was compiled

	Raw json.RawMessage `json:"-"` // the whole JSON text
}

// BuildConfig says how the library was compiled.
type BuildConfig struct {
	Type       string `json:"type"`       // CMake build type, for example "Release"
	Compiler   string `json:"compiler"`   // compiler and version
	Sanitizers string `json:"sanitizers"` // "", "address,undefined" or "thread"
}

// BuildInfoJSON returns aios_build_info() unparsed: a JSON object
// describing the build.
func BuildInfoJSON() string {
	return C.GoString(C.aios_build_info())
}

// BuildInfo returns aios_build_info() parsed. It fails (with ErrInternal)
// only if the library's JSON does not parse.
func BuildInfo() (Build, error) {
	raw := BuildInfoJSON()
	var b Build
	if err := json.Unmarshal([]byte(raw), &b); err != nil {
		return Build{}, newError(StatusInternal, "aios.BuildInfo: cannot parse aios_build_info(): "+err.Error())
	}
	b.Raw = json.RawMessage(raw)
	return b, nil
}

// ------------------------------------------------------ per-thread errors

// LastErrorMessage returns the message of the last failure on the calling
// OS thread (aios_last_error_message).
//
// It is of limited use in Go: a goroutine may move to another thread
// between two calls, and the errors this package returns already carry the
// message (each call copies it on the thread that failed, in the same cgo
// call; see Error). It is meaningful only in a goroutine that called
// runtime.LockOSThread before the failing call.
func LastErrorMessage() string {
	return C.GoString(C.aios_last_error_message())
}

// LastErrorStatus returns the status of the last failure on the calling OS
// thread (aios_last_error_status); StatusOK if none. The caveats of
// LastErrorMessage apply.
func LastErrorStatus() Status {
	return Status(C.aios_last_error_status())
}

// ErrorClear forgets the last failure on the calling OS thread
// (aios_error_clear). The caveats of LastErrorMessage apply.
func ErrorClear() {
	C.aios_error_clear()
}

// SetError records a failure on the calling OS thread as libaios' own
// functions do (aios_error_set) and returns the status recorded: status,
// or StatusCallback when status is not a failure (>= 0). message says
// what failed; "" records status's description (StatusString). libaios
// keeps at most 511 bytes of it and stops at a NUL byte.
//
// It is for host callback code that runs on a thread libaios called it
// on and is about to return a failure to the library: libaios carries a
// message recorded on its worker thread back to the thread that made the
// library call. The binding does this itself for the KMS methods of a
// callback provider (see NewCallbackProvider), so Go code rarely needs
// it; elsewhere the caveats of LastErrorMessage apply (call
// runtime.LockOSThread first).
func SetError(status Status, message string) Status {
	var cm *C.char
	if message != "" {
		cm = C.CString(message)
		defer freeCString(cm)
	}
	return Status(C.aios_error_set(C.int(status), cm))
}

// ------------------------------------------------------- secret helpers

// ConstantTimeEqual reports whether a and b hold the same bytes
// (aios_ct_equal), in time that depends only on their length. Slices of
// different lengths are unequal at once: the length is not secret.
func ConstantTimeEqual(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 {
		return true
	}
	eq := C.aios_ct_equal((*C.uint8_t)(unsafe.Pointer(&a[0])), (*C.uint8_t)(unsafe.Pointer(&b[0])),
		C.size_t(len(a)))
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	return eq == 1
}

// Wipe overwrites b with zeros in a way the compiler cannot elide
// (aios_wipe). Go may have copied the bytes elsewhere before (a slice
// that grew, a string conversion), so keep secrets in a secure Buffer
// where possible and use Wipe on the Go copies you make.
func Wipe(b []byte) {
	if len(b) == 0 {
		return
	}
	C.aios_wipe(unsafe.Pointer(&b[0]), C.size_t(len(b)))
	runtime.KeepAlive(b)
}
