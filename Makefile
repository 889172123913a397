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
# timm 1.0 and Pillow for the augmentation goldens (pyenv python3; pip install --no-deps timm pillow).
TIMM_PY ?= python3
APT_STAMP := .deps/apt.stamp

# The kernel tests need the emulated driver; where the build made it, a missing one is an error.
CUDA_REQUIRED = $(shell test -f kernels/target/emu/libcuda_emu.so && echo -Dlumen.cuda.required=true)

.PHONY: build build-cpu test train golden deps clean kernels emu-test tools-test kernel-report gpu-test bench bench-gpu bench-train-gpu gpu-driver peers bench-models
# A build's JVM lives too briefly for C2 to pay off: C1 alone halves its CPU time (javac runs in it).
MVN_BUILD := MAVEN_OPTS="$(MAVEN_OPTS) -XX:TieredStopAtLevel=1" $(MVN)

build: $(APT_STAMP) kernels
	$(MVN_BUILD) -DskipTests install
	tools/write-launcher.sh "$(JAVA_HOME)"

# What a CPU run needs (make train builds only this): the modules up to the application and the
# launcher, without the CUDA kernels (nvcc fatbin, emulated libraries: minutes) and the benchmarks.
# package, not install: bin/lumen's class path is the modules' jars in this tree.
build-cpu: $(APT_STAMP)
	$(MVN_BUILD) -DskipTests package -pl src -am
	tools/write-launcher.sh "$(JAVA_HOME)"

test: $(APT_STAMP) kernels emu-test tools-test
	$(MVN) install $(CUDA_REQUIRED)
	tools/write-launcher.sh "$(JAVA_HOME)"

# nvcc -> one fatbin (a resource of the kernels jar) and g++ -> the emulated driver with the same kernels.
kernels:
	$(MAKE) -C kernels emu fatbin

emu-test:
	$(MAKE) -C kernels emu-test emu-asan-test entry-check

# The Python tools' own tests (standard library only, seconds), and bench/peers' ratio table.
tools-test:
	python3 -m unittest discover -s tools -p 'test_*.py'
	python3 -m unittest discover -s bench/peers -p 'test_*.py'

# The static performance report (registers, occupancy, hot-loop mix, roofline estimate) of the
# README's kernel table on an H100, from nvcc's ptxas -v output and PTX; needs no GPU.
kernel-report:
	$(MAKE) -C kernels kernel-report

# Every CUDA test (kernels, the engine's op tests on cuda, model goldens, lumen train --device cuda)
# once, then the kernel tests under compute-sanitizer's memcheck and racecheck where the toolkit has it,
# against the real driver, cuBLAS and cuDNN, on a machine with a GPU. lumen doctor first says what
# was found and what could not be loaded.
gpu-test: $(APT_STAMP) kernels
	$(MVN) -DskipTests install
	tools/write-launcher.sh "$(JAVA_HOME)"
	LUMEN_CUDA_DRIVER=libcuda.so.1 bin/lumen doctor
	$(MVN) test -pl kernels,models,src -Dlumen.cuda.driver=libcuda.so.1 -Dlumen.cuda.required=true \
	  -Dlumen.emu.check.skip=true
	@if command -v compute-sanitizer > /dev/null; then \
	  for tool in memcheck racecheck; do \
	    compute-sanitizer --tool $$tool --target-processes all --error-exitcode 1 \
	      $(MVN) test -pl kernels -Dlumen.cuda.driver=libcuda.so.1 -Dlumen.cuda.required=true \
	      -Dlumen.emu.check.skip=true -Dsurefire.reportsDirectory=target/surefire-reports-$$tool || exit 1; \
	  done; \
	else echo "gpu-test: compute-sanitizer not found: memcheck and racecheck not run"; fi

# The built-in default run: Fashion-MNIST (installed when missing) on the CPU, after make build-cpu;
# its last two lines are the run folder and the final test top-1.
train: $(APT_STAMP)
	tools/train-default.sh

# Debian packages the runtime uses: OpenBLAS for SGEMM, oneDNN for convolutions, fonts for the PNG reports. Installed once per machine.
deps: $(APT_STAMP)
$(APT_STAMP):
	@tools/apt-install.sh libopenblas0-pthread libdnnl2 fontconfig fonts-dejavu-core
	@mkdir -p .deps && touch $@

# The PyTorch peers' python (PEER_PY, default python3 on the path) with PyTorch 2.13 (CPU) and timm 1.0,
# installed with pip from the local wheels and index when missing.
PEER_PY ?= python3
export PEER_PY
peers:
	tools/peers-install.sh

# JMH benchmarks of every kernel and CPU implementation, then the PyTorch peers: make bench [BENCH=regex]
bench: build peers
	tools/bench.sh $(BENCH)

# lumen benchmark and its PyTorch 2.13 peer in turns, per model, then the ratio table (CSV and
# markdown under bench/target/bench-models): make bench-models [MODELS=a,b] [BENCH_ARGS="--rounds 3"]
bench-models: build peers
	tools/bench-models.sh "$(MODELS)" $(BENCH_ARGS)

# The CUDA benchmarks (*CudaBench) on a GPU through libcuda.so.1, then the README's kernel table
# with its measured column filled: make bench-gpu [BENCH=regex]. Fails at once without a GPU driver.
bench-gpu: gpu-driver build
	tools/bench-gpu.sh $(BENCH)

# Training throughput (images/s, batch 64, 224x224, bf16) of each model on a GPU, then the same
# models in PyTorch where a CUDA torch is installed: make bench-train-gpu [TRAIN_ARGS="--steps 50"]
bench-train-gpu: gpu-driver build
	tools/bench-train-gpu.sh $(TRAIN_ARGS)

# LUMEN_CUDA_DRIVER (the emulated driver, for a smoke run) skips the check.
gpu-driver:
	@[ -n "$$LUMEN_CUDA_DRIVER" ] || ldconfig -p 2>/dev/null | grep -q 'libcuda.so.1 ' \
	  || { echo "bench-gpu: no GPU driver: libcuda.so.1 is not installed on this machine"; exit 1; }

golden: $(APT_STAMP)
	@tools/apt-install.sh python3-torch
	cd tools/golden && for f in gen_*.py; do echo "golden: $$f"; $(TORCH_PY) $$f || exit 1; done
	cd tools/golden && $(TIMM_PY) timm_augment.py

clean:
	$(MVN) clean
	rm -rf bin .deps
