# Cross-compiles Loam for 64-bit Arm Linux with Debian's g++-aarch64-linux-gnu; the test programs
# run under qemu-user. Use:
#   cmake -S . -B build/aarch64 -DCMAKE_TOOLCHAIN_FILE=tools/aarch64-toolchain.cmake \
#         -DLOAM_NATIVE=OFF -DLOAM_BUILD_TOOLS=OFF
# `ctest` then runs each test through qemu-aarch64; the emulated CPU is chosen by $QEMU_CPU
# (e.g. QEMU_CPU=max has dotprod and fp16, QEMU_CPU=cortex-a53 has neither).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(LOAM_AARCH64_PREFIX "aarch64-linux-gnu" CACHE STRING "Prefix of the cross compiler's tools")
set(LOAM_AARCH64_SYSROOT "/usr/aarch64-linux-gnu" CACHE PATH
    "Target libraries (Debian's libc6-dev-arm64-cross location); also qemu's -L prefix")

set(CMAKE_C_COMPILER ${LOAM_AARCH64_PREFIX}-gcc)
set(CMAKE_CXX_COMPILER ${LOAM_AARCH64_PREFIX}-g++)

# Libraries and headers come from the target tree only; programs (cmake helpers) from the host.
set(CMAKE_FIND_ROOT_PATH ${LOAM_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Lets ctest (and try_run) execute target programs on the build machine.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L ${LOAM_AARCH64_SYSROOT})
