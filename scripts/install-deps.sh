#!/usr/bin/env bash
# Installs the Debian packages kahttpd needs to build, test and benchmark.
# Only packages that are missing are installed; each one is named first.
set -euo pipefail

packages=(
    build-essential cmake pkg-config   # toolchain (gcc 12 brings libasan8, liblsan0 and
                                       # libubsan1, the runtimes make test-sanitize needs)
    libuv1-dev                         # event loop
    libsystemd-dev                     # sd_notify, sd_listen_fds (Type=notify, socket activation)
    systemd                            # systemd-socket-activate and systemd-analyze (tests)
    node-llhttp                        # llhttp C sources, built by CMake
    nlohmann-json3-dev                 # JSON (config dump)
    zlib1g-dev libbrotli-dev           # compression on the fly (gzip, br)
    libpcre2-dev                       # regular expressions (AliasMatch, <FilesMatch> ...)
    libssl-dev openssl                 # TLS (OpenSSL 3); the openssl command makes test certs
    doctest-dev                        # unit tests
    media-types                        # /etc/mime.types
    python3 curl wrk                   # integration tests and smoke load
    haproxy                            # the load balancer in front (test_haproxy.py)
    chromium                           # TLS browser test (test_tls_clients.py)
    python3-brotli                     # decoding br responses in the integration tests
    logrotate groff-base               # checking the package's logrotate file and man page
)
if [ "${KAHTTPD_BENCH_DEPS:-0}" = 1 ]; then
    # Peers (h2o, lighttpd and its TLS module, nginx, caddy, apache2), instruction counting
    # (perf, else callgrind), the timer wheel micro-benchmark (Google Benchmark), the chart
    # (matplotlib) and system calls per request (strace; make bench-syscalls).
    packages+=(nginx-light h2o lighttpd lighttpd-mod-openssl caddy apache2 linux-perf valgrind
               libbenchmark-dev python3-matplotlib strace)
fi

if [ "${KAHTTPD_FUZZ_DEPS:-0}" = 1 ]; then
    # make fuzz: clang 14 with libFuzzer and the sanitizer runtimes (libclang-rt-14-dev).
    packages+=(clang libclang-rt-14-dev)
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
port80() { ss -ltnpH 'sport = :80' 2>/dev/null || true; }
port80_before=$(port80)
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"

# The peers' packages start their own system service where the init system lets them (nginx,
# h2o, lighttpd, caddy and apache2 all listen on port 80 by default; a policy-rc.d that exits
# 101, as in containers, stops that). The benchmarks need none of them: every run starts its
# own servers on ports chosen at run time. Say what this install left running; stopping or
# disabling it is the machine owner's call, so it is left alone.
started=()
for p in "${missing[@]}"; do
    case $p in
        nginx-light) unit=nginx ;;
        h2o | lighttpd | caddy | apache2) unit=$p ;;
        *) continue ;;
    esac
    if [ -d /run/systemd/system ] && systemctl is-active --quiet "$unit" 2>/dev/null; then
        started+=("$unit")
    fi
done
port80_after=$(port80)
if [ ${#started[@]} -gt 0 ] || { [ -z "$port80_before" ] && [ -n "$port80_after" ]; }; then
    echo "install-deps: note: the packages started system services${started[*]:+ (${started[*]})};" \
        "the benchmarks do not use them."
    [ -z "$port80_after" ] || echo "install-deps: port 80 now: $port80_after"
    [ ${#started[@]} -eq 0 ] ||
        echo "install-deps: to stop them for good: $sudo systemctl disable --now ${started[*]}"
fi
