# Cross-compiling libaios for 64-bit Arm Linux on a Debian x86-64 host
# (scripts/test-arm64): Debian's cross compiler and the arm64 multiarch
# -dev packages, the tests run under qemu-aarch64 emulating a CPU with the
# Armv8 crypto extensions (AES, PMULL, SHA1, SHA2).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# Libraries and pkg-config files of the target only; headers from the
# multiarch include directories; programs (protoc-c) from the host.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
# -L /: the arm64 multiarch loader and libc (libc6:arm64), the ones the
# -dev packages were built against; the cross sysroot's older libc mixed
# with them hangs in pthread_create.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L / -cpu max)
