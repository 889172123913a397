# Lumen's entry point. `make` builds, `make test` runs every test, `make golden` rewrites the
# PyTorch goldens. Each target installs what it needs on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := build

# A JDK >= 25: JAVA_HOME if it is new enough, else Temurin 25 where Debian images put it.
JAVA_HOME := $(shell tools/find-jdk.sh)
ifeq ($(JAVA_HOME),)
$(error No JDK >= 25 found: set JAVA_HOME to one, or install Temurin 25 under /usr/lib/jvm/temurin-25-jdk-amd64)
endif
export JAVA_HOME
export PATH := $(JAVA_HOME)/bin:$(PATH)
# Maven 3.8 still uses sun.misc.Unsafe; JDK 25 warns about it on every run.
export MAVEN_OPTS ?= --sun-misc-unsafe-memory-access=allow

MVN := mvn -B -q -e $(if $(CI),-ntp,)
TORCH_PY := /usr/bin/python3
APT_STAMP := .deps/apt.stamp

.PHONY: build test golden deps clean
build: $(APT_STAMP)
	$(MVN) -DskipTests install
	tools/write-launcher.sh "$(JAVA_HOME)"

test: $(APT_STAMP)
	$(MVN) install
	tools/write-launcher.sh "$(JAVA_HOME)"

# Debian packages the runtime uses: OpenBLAS for SGEMM. Installed once per machine.
deps: $(APT_STAMP)
$(APT_STAMP):
	@tools/apt-install.sh libopenblas0-pthread
	@mkdir -p .deps && touch $@

golden: $(APT_STAMP)
	@tools/apt-install.sh python3-torch
	cd tools/golden && for f in gen_*.py; do echo "golden: $$f"; $(TORCH_PY) $$f || exit 1; done

clean:
	$(MVN) clean
	rm -rf bin .deps
