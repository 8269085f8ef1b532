// Package dlsym looks symbols up in shared libraries already loaded into
// the process, for the binding's tests: every symbol of lib/libaios.map
// must resolve in the libaios.so.1 that package aios linked.
package dlsym

/*
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct dlsym_result {
    uintptr_t addr;
    char object[512];    // the file that defines the symbol
    char error[512];     // dlerror() text on failure
} dlsym_result;

static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t n;
    if (src == NULL)
        src = "";
    n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

// One call does dlopen, dlsym, dladdr and reads dlerror(), which is per
// thread: a second cgo call might run on another thread.
static int dlsym_lookup(const char *library, const char *symbol, dlsym_result *out)
{
    void *lib = RTLD_DEFAULT;
    void *sym;
    Dl_info info;

    memset(out, 0, sizeof(*out));
    (void)dlerror();
    if (library != NULL) {
        // RTLD_NOLOAD: only find the copy this process already linked.
        lib = dlopen(library, RTLD_NOW | RTLD_NOLOAD);
        if (lib == NULL) {
            copy_text(out->error, sizeof(out->error), dlerror());
            return -1;
        }
    }
    sym = dlsym(lib, symbol);
    if (sym == NULL) {
        copy_text(out->error, sizeof(out->error), dlerror());
        if (lib != RTLD_DEFAULT)
            dlclose(lib);
        return -1;
    }
    out->addr = (uintptr_t)sym;
    if (dladdr(sym, &info) != 0)
        copy_text(out->object, sizeof(out->object), info.dli_fname);
    if (lib != RTLD_DEFAULT)
        dlclose(lib);   // drops the reference NOLOAD added; the library stays
    return 0;
}
*/
import "C"

import (
	"errors"
	"unsafe"
)

// Lookup resolves symbol in library (a SONAME such as "libaios.so.1",
// which must already be loaded), or in the global scope (RTLD_DEFAULT) if
// library is "". It returns the symbol's address and the path of the
// object that defines it.
func Lookup(library, symbol string) (addr uintptr, object string, err error) {
	var lib *C.char
	if library != "" {
		lib = C.CString(library)
		defer C.free(unsafe.Pointer(lib))
	}
	sym := C.CString(symbol)
	defer C.free(unsafe.Pointer(sym))
	var r C.dlsym_result
	if C.dlsym_lookup(lib, sym, &r) != 0 {
		return 0, "", errors.New(C.GoString(&r.error[0]))
	}
	return uintptr(r.addr), C.GoString(&r.object[0]), nil
}
