# Safehold: every target does its own set-up on a fresh Debian 12 machine (see README.md).
SHELL := /bin/bash
JOBS ?= $(shell nproc)
BUILD ?= build/release
ASAN_BUILD ?= build/asan
CMAKE_COMMON = -G Ninja -DCMAKE_EXPORT_COMPILE_COMMANDS=ON

# Every Debian package the build, tests, demo and benchmarks need.
PACKAGES = build-essential cmake ninja-build pkg-config git \
  libtsk-dev sleuthkit libewf-dev ewf-tools libqcow-dev libvhdi-dev libvmdk-dev libbde-dev libbfio-dev lvm2 libargon2-dev qemu-utils cryptsetup-bin libdeflate-dev libisal-dev zlib1g-dev libzstd-dev zstd \
  libssl-dev openssl libsqlite3-dev sqlite3 libpq-dev postgresql postgresql-client \
  libboost-dev libboost-system-dev nlohmann-json3-dev libfmt-dev libcli11-dev catch2 \
  libfuse3-dev fuse3 dosfstools mtools e2fsprogs ntfs-3g exfatprogs exfat-fuse util-linux fdisk gdisk \
  imagemagick ffmpeg libjpeg-turbo-progs libpng-dev libheif-examples libxml2-utils \
  testdisk libjpeg62-turbo-dev libavformat-dev libavcodec-dev libswscale-dev libavutil-dev wrk hyperfine clang libclang-rt-14-dev python3 chromium procps psmisc curl zip unzip

# npm packages (the dashboard's browser test drives Debian's chromium with playwright-core).
# Kept outside the work tree so that a fresh clone (CI has no network) finds what deps installed.
NPM_DIR ?= $(HOME)/.cache/safehold/npm
PLAYWRIGHT_CORE ?= 1.65.1

.PHONY: deps build asan test demo bench clean format fuzz install deb

# Idempotent: installs only what is missing (so it needs no network when nothing is).
deps:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing missing packages: $$missing"; \
	  SUDO=$$( [ $$(id -u) -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends $$missing; \
	fi
	@# Node.js with npm: Debian's packages unless a node with npm is already there (NodeSource's
	@# nodejs ships npm itself and conflicts with Debian's npm package).
	@if ! command -v npm >/dev/null 2>&1; then \
	  SUDO=$$( [ $$(id -u) -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends nodejs npm; \
	fi
	@# npm packages for the dashboard's browser test (never committed; skipped when present). They
	@# live outside the work tree and build/npm points at them, so a fresh clone needs no network.
	@if [ ! -f $(NPM_DIR)/node_modules/playwright-core/package.json ]; then \
	  echo "Installing playwright-core $(PLAYWRIGHT_CORE) into $(NPM_DIR)"; \
	  mkdir -p $(NPM_DIR) && npm install --prefix $(NPM_DIR) --no-audit --no-fund --no-save \
	    playwright-core@$(PLAYWRIGHT_CORE); \
	fi
	@mkdir -p build && if [ ! -e build/npm ] || [ -L build/npm ]; then ln -sfn $(NPM_DIR) build/npm; fi

build: deps
	cmake -S . -B $(BUILD) $(CMAKE_COMMON) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

asan: deps
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_COMMON) -DCMAKE_BUILD_TYPE=Debug -DSAFEHOLD_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# The whole Catch2 suite through ctest, under AddressSanitizer and UndefinedBehaviorSanitizer.
test: asan
	BUILD_DIR=$(ASAN_BUILD) JOBS=$(JOBS) tests/run.sh

# `cmake --install` of the Release build: binary, man pages (from --help), systemd units, docs.
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX) --strip

# Debian package of the Release build into build/deb/ (Depends: runtime libraries only, computed
# by dpkg-shlibdeps). Install with `apt install ./build/deb/safehold_*.deb`.
deb: build
	packaging/build-deb.sh $(BUILD) build/deb

demo: build
	SAFEHOLD=$(BUILD)/tools/safehold tools/demo.sh

bench: build
	SAFEHOLD=$(BUILD)/tools/safehold bench/run.sh

# Every libFuzzer target (walkers, chat decoders, EXIF, hash-set importers, E01 path), built with
# clang and run briefly (FUZZ_SECONDS each).
fuzz: deps
	JOBS=$(JOBS) .ci/fuzz.sh $${FUZZ_SECONDS:-20}

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf build
