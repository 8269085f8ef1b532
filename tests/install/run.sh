#!/usr/bin/env bash
# tests/install/run.sh: build tests/install/consumer/consumer.c against
# libaios the ways a host does, run each program, and check that it prints
# the version this build was configured with.
#
#   cmake-package  `cmake --install <build> --prefix <tmp>`, then a CMake
#                  project with find_package(aios CONFIG REQUIRED) linking
#                  aios::aios (shared) and aios::aios_static
#   pkg-config     the same install, then plain cc with
#                  `pkg-config --cflags --libs aios` (run with
#                  LD_LIBRARY_PATH; also compiled as C++ when CXX is set)
#                  and `pkg-config --static --cflags --libs aios` linking
#                  libaios.a
#   vendored       a CMake project that does add_subdirectory(<checkout>
#                  aios-build) and links aios::aios and aios::aios_static,
#                  configured and built from scratch
#
# The installed tree must stand alone: no installed file may name the
# checkout or the build tree, the consumers are copied out of the checkout,
# and the shared programs must load libaios.so.1 from the prefix.
#
# usage: tests/install/run.sh --build-dir DIR --source-dir DIR --version X.Y.Z
#                             [--only cmake-package|pkg-config|vendored]...
#                             [--no-shared] [--no-static] [--keep]
#
# Environment: CC (default cc), CXX (a C++ compiler: consumer.c is also
# built as C++ with pkg-config, which links only if the headers declare C
# linkage; unset: not built), CMAKE (default cmake), CMAKE_GENERATOR (as
# cmake reads it), AIOS_CONSUMER_FLAGS (extra compile and link flags, e.g.
# -fsanitize=address,undefined when libaios was built with them).
# Exit status: 0 all passed, 1 a check failed, 2 usage error.
set -euo pipefail

build_dir= source_dir= version= keep=0 want_shared=1 want_static=1
steps=()
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir="$2"; shift 2 ;;
    --source-dir) source_dir="$2"; shift 2 ;;
    --version) version="$2"; shift 2 ;;
    --only) steps+=("$2"); shift 2 ;;
    --no-shared) want_shared=0; shift ;;
    --no-static) want_static=0; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; usage ;;
  esac
done
[ -n "$build_dir" ] && [ -n "$source_dir" ] && [ -n "$version" ] || usage
[ ${#steps[@]} -gt 0 ] || steps=(cmake-package pkg-config vendored)
for s in "${steps[@]}"; do
  case "$s" in cmake-package|pkg-config|vendored) ;; *) echo "run.sh: unknown step $s" >&2; exit 2 ;; esac
done

build_dir="$(cd "$build_dir" && pwd -P)"
source_dir="$(cd "$source_dir" && pwd -P)"
here="$source_dir/tests/install"
CC="${CC:-cc}"
CMAKE="${CMAKE:-cmake}"
read -r -a extra_flags <<< "${AIOS_CONSUMER_FLAGS:-}"
warn_flags=(-Wall -Wextra -Werror)

work="$(mktemp -d "${TMPDIR:-/tmp}/aios-install-test.XXXXXX")"
work="$(cd "$work" && pwd -P)"
cleanup() {
  if [ "$keep" -eq 1 ]; then echo "run.sh: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM   # ctest's timeout: still remove the temp dir

failures=0
step() { printf '\n==== %s\n' "$*"; }
ok()   { printf '  ok: %s\n' "$*"; }
fail() { printf '  FAIL: %s\n' "$*"; failures=$((failures + 1)); }
# run_logged LOG CMD...: run CMD with its output in LOG; show the log if it fails.
run_logged() {
  local log="$1" rc=0; shift
  "$@" >"$log" 2>&1 || rc=$?
  [ "$rc" -ne 0 ] || return 0
  printf '  command failed (exit %d): %s\n' "$rc" "$*"
  sed 's/^/    | /' "$log" | tail -n 60
  return "$rc"
}

# check_program NAME EXE LINKAGE: run EXE, check its version line, and check
# where libaios came from: LINKAGE is "shared:<dir libaios.so.1 must be
# loaded from>" or "static" (no libaios.so at all).
check_program() {
  local name="$1" exe="$2" linkage="$3" out
  if [ ! -x "$exe" ]; then fail "$name: $exe was not built"; return; fi
  if ! out="$("$exe" 2>&1)"; then
    fail "$name: $exe exited nonzero:"; printf '%s\n' "$out" | sed 's/^/    | /'; return
  fi
  if ! grep -qxF "libaios $version (headers $version)" <<<"$out"; then
    fail "$name: expected 'libaios $version (headers $version)', got:"
    printf '%s\n' "$out" | sed 's/^/    | /'; return
  fi
  case "$linkage" in
    static)
      local needed
      needed="$(readelf -d "$exe" | grep NEEDED || true)"
      if grep -q 'libaios' <<<"$needed"; then
        fail "$name: linked to a shared libaios, expected libaios.a:"
        sed 's/^/    | /' <<<"$needed"; return
      fi ;;
    shared:*)
      local want="${linkage#shared:}" got
      got="$(ldd "$exe" | awk '$1 == "libaios.so.1" { print $3 }')"
      if [ -z "$got" ]; then fail "$name: does not load libaios.so.1"; return; fi
      got="$(cd "$(dirname "$got")" && pwd -P)"
      if [ "$got" != "$want" ]; then
        fail "$name: loads libaios.so.1 from $got, expected $want"; return
      fi ;;
  esac
  ok "$name: $(printf '%s\n' "$out" | head -n 1), $linkage"
}

# no_tree_paths NAME DIR...: no text file under DIR names the checkout, the
# build tree or the directory the tree was first installed into.
no_tree_paths() {
  local name="$1"; shift
  case "$work/" in
    "$source_dir"/*|"$build_dir"/*)
      echo "  note: $name: temp dir $work is inside the tree; path check skipped"; return ;;
  esac
  local pats=(-e "$source_dir" -e "$build_dir" -e "$staged")
  local hits
  hits="$(grep -rIlF "${pats[@]}" "$@" 2>/dev/null || true)"
  if [ -n "$hits" ]; then
    fail "$name: files name the checkout ($source_dir), the build tree ($build_dir) or the first install prefix ($staged):"
    grep -rInF "${pats[@]}" "$@" 2>/dev/null | head -n 10 | sed 's/^/    | /'
  else
    ok "$name: nothing names the checkout, the build tree or the first install prefix"
  fi
}

# copy_project NAME: a copy of tests/install/NAME plus consumer.c, outside the checkout.
copy_project() {
  local dst="$work/$1-src"
  mkdir -p "$dst"
  cp "$here/$1/CMakeLists.txt" "$here/consumer/consumer.c" "$dst/"
  printf '%s\n' "$dst"
}

# The consumer projects add -Wall -Wextra -Werror to the consumer itself.
cmake_flags=(
  "-DCMAKE_C_COMPILER=$CC"
  "-DCMAKE_C_FLAGS=${extra_flags[*]:-}"
  "-DCMAKE_EXE_LINKER_FLAGS=${extra_flags[*]:-}"
  -DCMAKE_BUILD_TYPE=RelWithDebInfo
)

# Installed into $staged, then moved to $prefix: the tree must not depend
# on where it was installed either (aios.pc and the CMake package are
# relocatable).
staged="$work/staged"
prefix="$work/prefix"
libdir=
install_failed=0
install_tree() {
  [ -z "$libdir" ] || return 0
  [ "$install_failed" -eq 0 ] || return 1
  install_failed=1
  step "install: $CMAKE --install $build_dir --prefix <tmp>/staged, then mv to <tmp>/prefix"
  if ! run_logged "$work/install.log" "$CMAKE" --install "$build_dir" --prefix "$staged"; then
    fail "install: cmake --install failed"; return 1
  fi
  mv "$staged" "$prefix"
  local cfg
  cfg="$(find "$prefix" -name aiosConfig.cmake -print -quit)"
  if [ -z "$cfg" ]; then fail "install: no aiosConfig.cmake under the prefix"; return 1; fi
  libdir="$(cd "$(dirname "$cfg")/../.." && pwd -P)"
  echo "  installed into $prefix (libdir ${libdir#"$prefix"/}):"
  (cd "$prefix" && find . -type f -o -type l | sort | sed 's/^\.\//    /')
  local f
  for f in "include/aios/aios.h" "include/aios/version.h" "${libdir#"$prefix"/}/pkgconfig/aios.pc"; do
    [ -e "$prefix/$f" ] || fail "install: $f is missing"
  done
  if [ "$want_shared" -eq 1 ]; then
    [ -e "$libdir/libaios.so.1" ] || fail "install: libaios.so.1 is missing"
    [ -L "$libdir/libaios.so" ] || fail "install: the libaios.so development link is missing"
  fi
  if [ "$want_static" -eq 1 ]; then
    [ -e "$libdir/libaios.a" ] || fail "install: libaios.a is missing"
  fi
  if compgen -G "$prefix/include/aios/*.in" >/dev/null; then
    fail "install: a template was installed: $(cd "$prefix" && echo include/aios/*.in)"
  fi
  # Every public header is installed, experimental ones included.
  local h missing=()
  while IFS= read -r h; do
    [ -e "$prefix/include/$h" ] || missing+=("$h")
  done < <(cd "$source_dir/include" && find aios -name '*.h' | sort)
  [ ${#missing[@]} -eq 0 ] || fail "install: public headers not installed: ${missing[*]}"
  if [ -e "$libdir/libaios.so.1" ]; then
    local rpath
    rpath="$(readelf -d "$libdir/libaios.so.1" | grep -E 'RPATH|RUNPATH' || true)"
    if grep -qF -e "$source_dir" -e "$build_dir" <<<"$rpath"; then
      fail "install: the installed libaios.so.1 has an RPATH into the build tree: $rpath"
    fi
  fi
  no_tree_paths "install" "$prefix"
  install_failed=0
}

# build_and_check NAME BIN SHARED_LIBDIR: build and run the consumer targets
# of a configured CMake project.  aios::aios is the shared library, or the
# static one when only libaios.a was built; aios::aios_static is the static one.
build_and_check() {
  local name="$1" bin="$2" so_dir="$3" targets=()
  if [ "$want_shared" -eq 1 ] || [ "$want_static" -eq 1 ]; then targets+=(consumer_shared); fi
  [ "$want_static" -eq 1 ] && targets+=(consumer_static)
  if ! run_logged "$work/$name-build.log" "$CMAKE" --build "$bin" --target "${targets[@]}"; then
    fail "$name: build failed"; return 0
  fi
  if [ "$want_shared" -eq 1 ]; then
    check_program "$name aios::aios" "$bin/consumer_shared" "shared:$so_dir"
  else
    check_program "$name aios::aios (static-only build)" "$bin/consumer_shared" static
  fi
  if [ "$want_static" -eq 1 ]; then
    check_program "$name aios::aios_static" "$bin/consumer_static" static
  fi
  return 0
}

# ------------------------------------------------------------ cmake-package
do_cmake_package() {
  install_tree || return 0
  step "cmake-package: find_package(aios CONFIG REQUIRED) with CMAKE_PREFIX_PATH=<prefix>"
  local src bin
  src="$(copy_project cmake-package)"
  bin="$work/cmake-package-build"
  if ! run_logged "$work/cmake-package-configure.log" "$CMAKE" -S "$src" -B "$bin" \
        "-DCMAKE_PREFIX_PATH=$prefix" "${cmake_flags[@]}"; then
    fail "cmake-package: configure failed"; return 0
  fi
  grep -m1 'found aios' "$work/cmake-package-configure.log" | sed 's/^-- /  /' || true
  build_and_check cmake-package "$bin" "$libdir"
  no_tree_paths "cmake-package build" "$bin"
}

# --------------------------------------------------------------- pkg-config
do_pkg_config() {
  install_tree || return 0
  step "pkg-config: cc consumer.c \$(pkg-config ... aios) with PKG_CONFIG_PATH=<prefix>/${libdir#"$prefix"/}/pkgconfig"
  command -v pkg-config >/dev/null || { fail "pkg-config: pkg-config is not installed"; return 0; }
  local src bin cflags libs
  src="$(copy_project cmake-package)"   # only consumer.c is used
  bin="$work/pkg-config-build"
  mkdir -p "$bin"
  export PKG_CONFIG_PATH="$libdir/pkgconfig"
  if ! PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --exists --print-errors "aios = $version"; then
    fail "pkg-config: aios = $version not found"; return 0
  fi
  if [ "$want_shared" -eq 1 ]; then
    cflags="$(pkg-config --cflags aios)"; libs="$(pkg-config --libs aios)"
    echo "  shared: cflags '$cflags' libs '$libs'"
    # shellcheck disable=SC2086 # pkg-config output is a list of flags
    if run_logged "$work/pkg-config-shared.log" "$CC" -std=c11 "${warn_flags[@]}" "${extra_flags[@]}" \
          $cflags "$src/consumer.c" -o "$bin/consumer_shared" $libs; then
      LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        check_program "pkg-config shared" "$bin/consumer_shared" "shared:$libdir"
    else
      fail "pkg-config shared: compile or link failed"
    fi
  fi
  if [ "$want_shared" -eq 1 ]; then
    # The same program as C++: links only if every declaration has C linkage
    # (AIOS_BEGIN_DECLS / AIOS_END_DECLS).
    if [ -z "${CXX:-}" ]; then
      echo "  note: no C++ compiler (CXX unset): the C++ consumer is not built"
    else
      cflags="$(pkg-config --cflags aios)"; libs="$(pkg-config --libs aios)"
      # shellcheck disable=SC2086
      if run_logged "$work/pkg-config-cxx.log" "$CXX" -x c++ -std=c++11 "${warn_flags[@]}" \
            "${extra_flags[@]}" $cflags "$src/consumer.c" -x none -o "$bin/consumer_cxx" $libs; then
        LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
          check_program "pkg-config shared, consumer compiled as C++ ($(basename "$CXX"))" \
          "$bin/consumer_cxx" "shared:$libdir"
      else
        fail "pkg-config C++: compile or link failed (C linkage of the public headers?)"
      fi
    fi
  fi
  if [ "$want_static" -eq 1 ]; then
    cflags="$(pkg-config --static --cflags aios)"; libs="$(pkg-config --static --libs aios)"
    echo "  static: cflags '$cflags' libs '$libs'"
    case " $libs " in *" -laios "*) ;; *) fail "pkg-config static: no -laios in '$libs'"; return 0 ;; esac
    # -laios would pick libaios.so when both are installed: ask for the archive.
    libs="$(printf ' %s ' "$libs" | sed 's/ -laios / -l:libaios.a /')"
    # shellcheck disable=SC2086
    if run_logged "$work/pkg-config-static.log" "$CC" -std=c11 "${warn_flags[@]}" "${extra_flags[@]}" \
          $cflags "$src/consumer.c" -o "$bin/consumer_static" $libs; then
      check_program "pkg-config --static (libaios.a)" "$bin/consumer_static" static
    else
      fail "pkg-config static: compile or link failed"
    fi
  fi
}

# ----------------------------------------------------------------- vendored
do_vendored() {
  step "vendored: add_subdirectory($source_dir aios-build), built from scratch"
  local src bin
  src="$(copy_project vendored)"
  bin="$work/vendored-build"
  local onoff=(OFF ON)
  if ! run_logged "$work/vendored-configure.log" "$CMAKE" -S "$src" -B "$bin" \
        "-DAIOS_SOURCE_DIR=$source_dir" "${cmake_flags[@]}" \
        "-DAIOS_BUILD_SHARED=${onoff[$want_shared]}" "-DAIOS_BUILD_STATIC=${onoff[$want_static]}"; then
    fail "vendored: configure failed"; return 0
  fi
  # A vendored libaios must not take over the host: no tests, tools,
  # examples, benchmarks, -Werror or install rules of its own by default.
  local on
  on="$(grep -E '^AIOS_(INSTALL|WERROR|BUILD_(TESTS|TOOLS|EXAMPLES|BENCH)):BOOL=ON' "$bin/CMakeCache.txt" || true)"
  if [ -n "$on" ]; then
    fail "vendored: on by default under add_subdirectory(): $(printf '%s' "$on" | cut -d: -f1 | tr '\n' ' ')"
  else
    ok "vendored: tests, tools, examples, bench, -Werror and install rules are off by default"
  fi
  build_and_check vendored "$bin" "$bin/aios-build/lib"
}

echo "run.sh: libaios $version from $build_dir (checkout $source_dir); work dir $work"
for s in "${steps[@]}"; do
  case "$s" in
    cmake-package) do_cmake_package ;;
    pkg-config) do_pkg_config ;;
    vendored) do_vendored ;;
  esac
done

echo
if [ "$failures" -ne 0 ]; then
  echo "run.sh: $failures check(s) FAILED (${steps[*]})"
  exit 1
fi
echo "run.sh: all passed (${steps[*]})"
