# kahttpd: the two commands of the README.
#   make run   install missing packages, build (Release), serve www/ on 127.0.0.1:8080
#   make test  install missing packages, build, run every test through CTest
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
CONF ?= conf/httpd.conf

.PHONY: all deps configure build run test check-config bench format clean

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

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

bench: build
	@KAHTTPD_BENCH_DEPS=1 bash scripts/install-deps.sh
	bash benchmarks/run.sh

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf $(BUILD_DIR)
