#!/usr/bin/env bash
# Installs the Debian packages kahttpd needs to build, test and benchmark.
# Only packages that are missing are installed; each one is named first.
set -euo pipefail

packages=(
    build-essential cmake pkg-config   # toolchain (gcc 12 brings libasan8, liblsan0 and
                                       # libubsan1, the runtimes make test-sanitize needs)
    libuv1-dev                         # event loop
    node-llhttp                        # llhttp C sources, built by CMake
    nlohmann-json3-dev                 # JSON (config dump)
    libpcre2-dev                       # regular expressions (AliasMatch, <FilesMatch> ...)
    doctest-dev                        # unit tests
    media-types                        # /etc/mime.types
    python3 curl wrk                   # integration tests and smoke load
)
if [ "${KAHTTPD_BENCH_DEPS:-0}" = 1 ]; then
    # Peers (h2o, lighttpd, nginx), instruction counting (perf, else callgrind), the timer
    # wheel micro-benchmark (Google Benchmark) and the chart (matplotlib).
    packages+=(nginx-light h2o lighttpd linux-perf valgrind libbenchmark-dev python3-matplotlib)
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "install-deps: installing missing Debian packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
