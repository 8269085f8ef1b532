package aios

import (
	"go/scanner"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/libaios/libaios/bindings/go/internal/dlsym"
)

const mapFile = "../../lib/libaios.map"

// mapSymbols returns every name a linker version script exports: the
// names listed under "global:" in each version node.
func mapSymbols(t *testing.T, path string) []string {
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := regexp.MustCompile(`(?s)/\*.*?\*/|#[^\n]*`).ReplaceAllString(string(text), " ")
	toks := regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_.]*|[{}:;*]`).FindAllString(s, -1)
	var syms []string
	inGlobal := false
	for i, tok := range toks {
		next := ""
		if i+1 < len(toks) {
			next = toks[i+1]
		}
		switch {
		case tok == "global" && next == ":":
			inGlobal = true
		case tok == "local" && next == ":", tok == "}":
			inGlobal = false
		case inGlobal && tok != ":" && tok != ";" && next == ";":
			syms = append(syms, tok)
		}
	}
	return syms
}

// boundNames returns the libaios functions the package's own sources call:
// C.aios_x( in the non-test Go files (comments and the cgo preambles, which
// are comments, do not count) and aios_x( in the C shim with its comments
// removed.
func boundNames(t *testing.T) map[string]bool {
	names := map[string]bool{}
	goFiles, _ := filepath.Glob("*.go")
	for _, f := range goFiles {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fset := token.NewFileSet()
		var sc scanner.Scanner
		sc.Init(fset.AddFile(f, -1, len(src)), src, nil, 0)
		var toks []string
		for {
			_, tok, lit := sc.Scan()
			if tok == token.EOF {
				break
			}
			if tok == token.IDENT {
				toks = append(toks, lit)
			} else {
				toks = append(toks, tok.String())
			}
			// C . name (
			if n := len(toks); n >= 4 && toks[n-4] == "C" && toks[n-3] == "." && toks[n-1] == "(" {
				names[toks[n-2]] = true
			}
		}
	}
	cFiles, _ := filepath.Glob("*.[ch]")
	call := regexp.MustCompile(`\b(aios_[A-Za-z0-9_]+)\s*\(`)
	comments := regexp.MustCompile(`(?s)/\*.*?\*/|//[^\n]*`)
	for _, f := range cFiles {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range call.FindAllStringSubmatch(comments.ReplaceAllString(string(src), ""), -1) {
			names[m[1]] = true
		}
	}
	return names
}

// Every symbol in lib/libaios.map resolves in the loaded libaios.so.1 and is
// called by this package: a new C function without a Go binding fails here.
func TestEveryMapSymbolIsBound(t *testing.T) {
	syms := mapSymbols(t, mapFile)
	if len(syms) < 20 {
		t.Fatalf("found only %d symbols in %s: %v", len(syms), mapFile, syms)
	}
	bound := boundNames(t)
	for _, sym := range syms {
		if !strings.HasPrefix(sym, "aios_") {
			t.Errorf("%s exports %q, outside the aios_ namespace", mapFile, sym)
		}
		addr, object, err := dlsym.Lookup("libaios.so.1", sym)
		if err != nil || addr == 0 {
			t.Errorf("dlsym(libaios.so.1, %s): %v", sym, err)
		} else if !strings.HasPrefix(filepath.Base(object), "libaios.so") {
			t.Errorf("%s resolves in %s, not libaios.so", sym, object)
		}
		if _, _, err := dlsym.Lookup("", sym); err != nil {
			t.Errorf("dlsym(RTLD_DEFAULT, %s): %v", sym, err)
		}
		if !bound[sym] {
			t.Errorf("%s is exported by libaios but the Go binding never calls it", sym)
		}
	}
	if !t.Failed() {
		t.Logf("%d symbols, all resolved and bound", len(syms))
	}
}

// The checks above can fail: a name nobody binds is reported.
func TestSymbolCheckDetectsMissingBinding(t *testing.T) {
	bound := boundNames(t)
	for _, name := range []string{"aios_no_such_function", "aios_buffer"} {
		if bound[name] {
			t.Errorf("boundNames claims %q is bound", name)
		}
	}
	if !bound["aios_buffer_new"] || !bound["aios_buffer_len"] {
		t.Errorf("boundNames missed aios_buffer_new (shim.c) or aios_buffer_len (buffer.go)")
	}
	if _, _, err := dlsym.Lookup("libaios.so.1", "aios_no_such_function"); err == nil {
		t.Error("dlsym found aios_no_such_function")
	}
	if _, _, err := dlsym.Lookup("libaios.so.1", "aios__ensure_init"); err == nil {
		t.Error("an internal symbol (aios__ensure_init) is exported")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "test.map")
	if err := os.WriteFile(script, []byte("/* c; x; */\nV_1.0 {\n  global:\n    a_one;\n"+
		"    /* two */ a_two; # note;\n  local:\n    *;\n};\nV_1.1 {\n  global: a_three;\n} V_1.0;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(mapSymbols(t, script), ","); got != "a_one,a_two,a_three" {
		t.Errorf("mapSymbols = %q, want a_one,a_two,a_three", got)
	}
}
