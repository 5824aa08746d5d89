#!/bin/sh
# Installs, from Debian's archive only, whatever h2c's build and tests need and this machine lacks.
# Run by `make`; safe to run again (it installs nothing when everything is present).
set -eu

# python3-numpy: tests/npy (numpy writes, h2c reads); python3-jsonschema: tests/schedule (the schema); Open MPI: h2c-mpi; time: bench/explore_scale.sh; valgrind: make valgrind
PKGS="gcc libc6-dev make cmake pkg-config flex bison libcjson-dev llvm-14-dev clang-14 libclang-rt-14-dev graphviz diffutils llvm-14-tools libopenblas-dev gnuplot-nox python3 python3-numpy python3-jsonschema libopenmpi-dev openmpi-bin time valgrind"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    exit 0
fi

echo "bootstrap: installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "bootstrap: need root (or sudo) to install:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >&2
