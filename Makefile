# Vigil: every target does its own set-up on a fresh Debian 12 machine (see README.md).
SHELL := /bin/bash
JOBS ?= $(shell nproc)
BUILD ?= build/release
ASAN_BUILD ?= build/asan
CMAKE_COMMON = -G Ninja -DCMAKE_EXPORT_COMPILE_COMMANDS=ON

# Every Debian package the build, tests, demo and benchmarks need.
PACKAGES = build-essential cmake ninja-build pkg-config git \
  libtsk-dev sleuthkit libewf-dev ewf-tools libdeflate-dev libisal-dev zlib1g-dev libzstd-dev zstd \
  libssl-dev openssl libsqlite3-dev sqlite3 libpq-dev postgresql postgresql-client \
  libboost-dev libboost-system-dev nlohmann-json3-dev libfmt-dev libcli11-dev catch2 \
  libfuse3-dev fuse3 dosfstools mtools e2fsprogs ntfs-3g exfatprogs exfat-fuse util-linux fdisk gdisk \
  imagemagick ffmpeg libjpeg-turbo-progs libpng-dev libheif-examples libxml2-utils \
  testdisk libjpeg62-turbo-dev wrk hyperfine clang libclang-rt-14-dev python3 nodejs npm chromium procps psmisc

.PHONY: deps build asan test demo bench clean format fuzz

# Idempotent: installs only what is missing (so it needs no network when nothing is).
deps:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing missing packages: $$missing"; \
	  SUDO=$$( [ $$(id -u) -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD) $(CMAKE_COMMON) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

asan: deps
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_COMMON) -DCMAKE_BUILD_TYPE=Debug -DVIGIL_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# The whole Catch2 suite through ctest, under AddressSanitizer and UndefinedBehaviorSanitizer.
test: asan
	BUILD_DIR=$(ASAN_BUILD) JOBS=$(JOBS) tests/run.sh

demo: build
	VIGIL=$(BUILD)/tools/vigil tools/demo.sh

bench: build
	VIGIL=$(BUILD)/tools/vigil bench/run.sh

# libFuzzer targets of the carving walkers, built with clang and run briefly (FUZZ_SECONDS each).
fuzz: deps
	JOBS=$(JOBS) carve/fuzz/run.sh $${FUZZ_SECONDS:-20}

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf build
