# kahttpd: the two commands of the README.
#   make run   install missing packages, build (Release), serve www/ on 127.0.0.1:8080
#   make test  install missing packages, build, run every test through CTest
#   make test-sanitize  the same with ASan, LSan and UBSan, in build-sanitize/ (docs/hardening.md)
#   make fuzz  build the libFuzzer targets with clang in build-fuzz/ and run each for
#              FUZZ_SECONDS (docs/fuzzing.md)
#   make deb   build the Debian package build/kahttpd_VERSION_ARCH.deb (contrib/debian/)
#   make bench-gzip  compression on the fly, kahttpd against nginx's gzip (benchmarks/README.md)
#   make bench-tls   TLS keep-alive and Connection: close against nginx, h2o, lighttpd, Caddy and
#              Apache with the same certificate, and idle TLS connections (benchmarks/README.md)
#   make bench-syscalls  system calls per request under strace, kahttpd against h2o, nginx,
#              lighttpd (benchmarks/README.md)
#   make bench-scaling  Workers 1 against Workers 2 on both CPUs, with nginx and h2o
#              (benchmarks/README.md, "Multi-core")
#   make soak  mixed load, reloads and log rotations for SOAK_SECONDS (600); fails on growth
#              of descriptors, memory or threads (benchmarks/README.md, docs/soak.md)
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
CONF ?= conf/httpd.conf
SANITIZE_DIR ?= build-sanitize
SOAK_SECONDS ?= 600
FUZZ_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SEED ?=
FUZZ_RUNS ?=

.PHONY: all deps configure build run test deb test-sanitize fuzz check-config bench bench-quick bench-pressure bench-gzip bench-tls bench-syscalls bench-scaling soak format clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/server/kahttpd -f $(CONF)

check-config: build
	$(BUILD_DIR)/server/kahttpd -t -f $(CONF)

# The Debian package from the Release build: /usr/sbin/kahttpd, /etc/kahttpd/httpd.conf for the
# installed layout, the systemd units, logrotate and kahttpd(8) (contrib/debian/package.cmake).
# Install it with: apt install ./build/kahttpd_*.deb
deb: build
	cd $(BUILD_DIR) && cpack -G DEB
	@ls -1 $(BUILD_DIR)/kahttpd_*.deb

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# The whole suite (unit and integration, against the sanitized kahttpd) built with
# -DKAHTTPD_SANITIZE=ON in its own folder; the sanitizer options come from CTest's environment
# (tests/CMakeLists.txt), and any report fails its test.
test-sanitize: deps
	@cmake -S . -B $(SANITIZE_DIR) -DCMAKE_BUILD_TYPE=Debug -DKAHTTPD_SANITIZE=ON >/dev/null
	@cmake --build $(SANITIZE_DIR) -j $(JOBS)
	cd $(SANITIZE_DIR) && ctest --output-on-failure -j $(JOBS)

# The libFuzzer targets of tests/fuzz/ (request parser, configuration loader, HTTP helpers),
# built by clang 14 with -DKAHTTPD_FUZZ=ON (libFuzzer, ASan, UBSan) in their own folder, then
# each run for FUZZ_SECONDS on its corpus (build-fuzz/corpus/, kept between runs) and the seeds
# taken from tests/data/. Fails when any target crashes or breaks one of its properties; the
# input is saved in build-fuzz/artifacts/ (docs/fuzzing.md).
fuzz:
	@KAHTTPD_FUZZ_DEPS=1 bash scripts/install-deps.sh
	@cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=Debug -DKAHTTPD_FUZZ=ON \
	    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
	@cmake --build $(FUZZ_DIR) -j $(JOBS) --target fuzzers
	FUZZ_SEED=$(FUZZ_SEED) FUZZ_RUNS=$(FUZZ_RUNS) bash scripts/fuzz.sh $(FUZZ_DIR) $(FUZZ_SECONDS)

# kahttpd against nginx, h2o, lighttpd, Caddy, Apache httpd and a minimal server
# (benchmarks/README.md). Both install the peers and tools (Debian packages), build Release with
# the benchmark programs (-DKAHTTPD_BUILD_BENCH=ON), run every part and print the tables
# (build/bench/latest.*).
# bench takes about 19 minutes, bench-quick about 3 (seven servers, a busy machine).
bench bench-quick:
	@KAHTTPD_BENCH_DEPS=1 bash scripts/install-deps.sh
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release -DKAHTTPD_BUILD_BENCH=ON >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target kahttpd minimal_server timer_wheel_bench
	BENCH_OUT=$(abspath $(BUILD_DIR))/bench KAHTTPD=$(abspath $(BUILD_DIR))/server/kahttpd \
	    MINIMAL=$(abspath $(BUILD_DIR))/benchmarks/minimal_server \
	    TIMER_BENCH=$(abspath $(BUILD_DIR))/benchmarks/timer_wheel_bench \
	    bash benchmarks/bench.sh $(if $(filter bench-quick,$@),quick,full)

# Keep-alive under pressure alone (benchmarks/pressure.py, about 90 s; also part of make bench).
bench-pressure:
	@KAHTTPD_BENCH_DEPS=1 bash scripts/install-deps.sh
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target kahttpd
	BENCH_OUT=$(abspath $(BUILD_DIR))/bench KAHTTPD=$(abspath $(BUILD_DIR))/server/kahttpd \
	    python3 benchmarks/pressure.py

# Compression on the fly against nginx's gzip, Caddy's encode gzip and Apache's mod_deflate
# (benchmarks/README.md): run.sh's gz-1k and gz-64k scenarios, BENCH_SERVERS (kahttpd nginx caddy
# apache), BENCH_ROUNDS (5) interleaved rounds of 5 s, about 4 minutes. Results in
# build/bench-gzip/ (BENCH_OUT).
bench-gzip:
	@KAHTTPD_BENCH_DEPS=1 bash scripts/install-deps.sh
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target kahttpd
	BENCH_OUT=$${BENCH_OUT:-$(abspath $(BUILD_DIR))/bench-gzip} \
	    KAHTTPD=$(abspath $(BUILD_DIR))/server/kahttpd \
	    BENCH_SERVERS="$${BENCH_SERVERS:-kahttpd nginx caddy apache}" \
	    BENCH_SCENARIOS="$${BENCH_SCENARIOS:-gz-1k gz-64k}" BENCH_ROUNDS=$${BENCH_ROUNDS:-5} \
	    timeout -k 10 900 bash benchmarks/run.sh

# TLS (benchmarks/README.md): run.sh's tls-ka-1k and tls-close-1k scenarios with one
# self-signed ECDSA P-256 certificate for every server, BENCH_SERVERS (kahttpd nginx h2o lighttpd
# caddy apache), BENCH_ROUNDS (3) interleaved rounds of 5 s, about 4 minutes; then idle TLS
# connections (idle_memory.py --tls: IDLE_TLS_CONNECTIONS, 2000, to kahttpd and nginx), about
# a minute. Results in build/bench-tls/ (BENCH_OUT): latest.*, idle-tls.*.
bench-tls:
	@KAHTTPD_BENCH_DEPS=1 bash scripts/install-deps.sh
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target kahttpd
	BENCH_OUT=$${BENCH_OUT:-$(abspath $(BUILD_DIR))/bench-tls} \
	    KAHTTPD=$(abspath $(BUILD_DIR))/server/kahttpd \
	    BENCH_SERVERS="$${BENCH_SERVERS:-kahttpd nginx h2o lighttpd caddy apache}" \
	    BENCH_SCENARIOS="$${BENCH_SCENARIOS:-tls-ka-1k tls-close-1k}" BENCH_ROUNDS=$${BENCH_ROUNDS:-3} \
	    timeout -k 10 900 bash benchmarks/run.sh
	BENCH_OUT=$${BENCH_OUT:-$(abspath $(BUILD_DIR))/bench-tls} \
	    KAHTTPD=$(abspath $(BUILD_DIR))/server/kahttpd \
	    BENCH_SERVERS="$${IDLE_TLS_SERVERS:-kahttpd nginx}" \
	    timeout -k 10 600 $${BENCH_PYTHON:-/usr/bin/python3} benchmarks/idle_memory.py --tls

# System calls per request (benchmarks/syscalls.py, about 1.5 minutes): strace -c -f on the
# serving process of kahttpd, h2o, nginx and lighttpd (SYSCALLS_SERVERS) during 3 s wrk runs,
# Connection: close and keep-alive on 1 KiB, plus an untraced count with perf's syscall
# tracepoints where the kernel has them. Results in build/bench-syscalls/ (BENCH_OUT).
bench-syscalls:
	@KAHTTPD_BENCH_DEPS=1 bash scripts/install-deps.sh
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target kahttpd
	BENCH_OUT=$${BENCH_OUT:-$(abspath $(BUILD_DIR))/bench-syscalls} \
	    KAHTTPD=$(abspath $(BUILD_DIR))/server/kahttpd \
	    timeout -k 10 900 $${BENCH_PYTHON:-/usr/bin/python3} benchmarks/syscalls.py

# Worker scaling (benchmarks/scaling.py, about 6 minutes): kahttpd with Workers 1 and 2, nginx
# and h2o with 1 and 2 workers (SCALING_SERVERS), servers and wrk -t2 on CPUs 0-1; ka-1k,
# ka-1k-c1000 and close-1k, SCALING_ROUNDS (3) interleaved rounds of 5 s. Results in
# build/bench-scaling/ (BENCH_OUT).
bench-scaling:
	@KAHTTPD_BENCH_DEPS=1 bash scripts/install-deps.sh
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target kahttpd
	BENCH_OUT=$${BENCH_OUT:-$(abspath $(BUILD_DIR))/bench-scaling} \
	    KAHTTPD=$(abspath $(BUILD_DIR))/server/kahttpd \
	    timeout -k 10 1200 $${BENCH_PYTHON:-/usr/bin/python3} benchmarks/scaling.py

# Soak (benchmarks/soak.py): the Release kahttpd under a mixed load for SOAK_SECONDS (default
# 600; SOAK_SECONDS=60 for a quick look), a reload every 20 s and a log rotation every 60 s.
# Fails when descriptors, RSS or threads grow, or do not come back to the idle baseline after
# the load. A benchmark, not a test: not in CTest, not in CI. Results in build/bench/soak.*
# (BENCH_OUT).
soak:
	@KAHTTPD_BENCH_DEPS=1 bash scripts/install-deps.sh
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target kahttpd
	BENCH_OUT=$${BENCH_OUT:-$(abspath $(BUILD_DIR))/bench} \
	    KAHTTPD=$(abspath $(BUILD_DIR))/server/kahttpd SOAK_SECONDS=$(SOAK_SECONDS) \
	    timeout -k 10 $$(( $(SOAK_SECONDS) + 400 )) \
	    $${BENCH_PYTHON:-/usr/bin/python3} benchmarks/soak.py

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf $(BUILD_DIR) $(SANITIZE_DIR) $(FUZZ_DIR)
