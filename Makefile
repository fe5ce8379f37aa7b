# The README's commands. Each target sets up what it needs: a virtual
# environment in .venv, the pinned CPU build of torch, the project, and the
# compiled operators (vaestudio._C).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := .make
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: studio test test-fast bench bench-paths build info train-zoo clean

# After a failed build the studio runs on the reference operators (no JIT retry at start-up).
studio: $(STAMP)/built
	@if [ -f $(STAMP)/build-failed ]; then cat $(STAMP)/build-failed; fi
	VAESTUDIO_NO_JIT=$$([ -f $(STAMP)/build-failed ] && echo 1 || echo 0) $(PY) -m studio --host $(HOST) --port $(PORT)

test: $(STAMP)/built $(STAMP)/browser $(STAMP)/compilers
	$(PY) -m pytest -q

test-fast: $(STAMP)/built
	$(PY) -m pytest -q -m "not e2e and not browser and not slow"

bench: $(STAMP)/built
	$(PY) -m bench.run_all

# Every benchmark once per CPU kernel path this machine runs (avx512, avx2, default here).
bench-paths: $(STAMP)/built
	$(PY) -m bench.run_all --cpu-paths all

info: $(STAMP)/built
	$(PY) -m vaestudio.cli info

build: $(STAMP)/built

$(STAMP)/venv:
	@mkdir -p $(STAMP)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@touch $@

# One resolution with torch pinned (requirements.txt: torch==2.13.0), so nothing pulls another build of it.
$(STAMP)/deps: $(STAMP)/venv requirements.txt requirements-dev.txt
	$(PY) -m pip install -q torch==2.13.0 -r requirements.txt -r requirements-dev.txt
	@touch $@

$(STAMP)/installed: $(STAMP)/deps setup.py pyproject.toml
	VAESTUDIO_SKIP_EXTENSION=1 $(PY) -m pip install -q --no-build-isolation --no-deps -e .
	@touch $@

# The compiled operators: one generic build whose kernels pick the CPU's path at run time. A failed
# build never blocks the studio: the stale library is removed, the operators run their pure-PyTorch
# references, and one line (kept in $(STAMP)/build-failed) says what failed and how to fix it.
$(STAMP)/built: $(STAMP)/installed $(wildcard csrc/*.cpp csrc/*.h csrc/cpu/*.cpp csrc/cpu/*.h csrc/cuda/*.cu csrc/cuda/*.cuh csrc/cuda/*.h)
	@echo "building the C++ operators (log: $(STAMP)/build.log)..."
	@if $(PY) setup.py -q build_ext --inplace > $(STAMP)/build.log 2>&1; then rm -f $(STAMP)/build-failed; \
	else rm -f vaestudio/_C*.so; \
	  cause=$$( (grep -m1 -E "error:|fatal error" $(STAMP)/build.log || grep -iE "error|not found" $(STAMP)/build.log | tail -1) | cut -c1-160); \
	  echo "vaestudio: the C++ operators did not build ($${cause:-see $(STAMP)/build.log}); the studio runs on the slower pure-PyTorch reference operators. Fix: install a C++17 compiler (g++ or clang++, or set CXX) and run make build; full log: $(STAMP)/build.log" | tee $(STAMP)/build-failed; fi
	@touch $@

# Headless Chromium and its driver for the browser tests (Debian packages).
$(STAMP)/browser:
	@mkdir -p $(STAMP)
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-noto-color-emoji >/dev/null) \
	  || echo "warning: could not install chromium; the browser tests will say so"; \
	else echo "warning: chromium and chromedriver are missing; install them for the browser tests"; fi
	@touch $@

# clang and the ARM64 cross compiler for the portability tests (tests/ops/test_portable_builds.py).
$(STAMP)/compilers:
	@mkdir -p $(STAMP)
	@if command -v clang++ >/dev/null && command -v aarch64-linux-gnu-g++ >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang g++-aarch64-linux-gnu >/dev/null) \
	  || echo "warning: could not install clang and g++-aarch64-linux-gnu; the portability tests will say so"; \
	else echo "warning: clang++ and aarch64-linux-gnu-g++ are missing; install them for the portability tests"; fi
	@touch $@

train-zoo: $(STAMP)/built
	bash scripts/train_zoo.sh

clean:
	rm -rf build $(STAMP) vaestudio/_C*.so
