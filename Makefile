# The two commands (see README): `make demo` and `make test`.
# Both create the virtual environment in .venv on first use. `make test-zarr2`
# runs the storage tests again in .venv-zarr2 with zarr-python 2 (minian 2.x).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# A second environment with the pins minian 2.x users have: zarr-python 2.18
# (rechunker needs zarr<3) and an xarray older than 2026.04 (which needs zarr 3).
VENV2 := .venv-zarr2
BIN2 := $(VENV2)/bin
STAMP2 := $(VENV2)/.installed
ZARR2_CONSTRAINTS := .ci/zarr2-constraints.txt
# Save/load, the minian layout and other exports, minisim.testing and the metrics it
# scores with, the cache and sweeps over it, the CLI, and the cross-version round trip.
ZARR2_TESTS := tests/test_store.py tests/test_export.py tests/test_testing.py tests/test_metrics.py \
	tests/test_cache.py tests/test_sweep.py tests/test_cli.py tests/test_zarr_versions.py

# A third environment with the IBL photometry stack from PyPI (pins that resolve together; the consumer
# tests load, extract and QC simulated sessions with it, unpatched). See docs/howto/photometry.md.
VENVP := .venv-photometry
BINP := $(VENVP)/bin
STAMPP := $(VENVP)/.installed
IBL_PINS := ibl-photometry==0.3.4 ONE-api==3.6.1 ibllib==4.1.0 pandas==2.3.3
# NWB beside them (no pin clashes): the consumer tests read our NWB files with pynwb and nwbinspector.
NWB_PINS := pynwb==4.2.0 ndx-fiber-photometry==0.2.4 nwbinspector==0.7.2

# A fourth environment installed the way docs/howto/switching_from_1_0.md tells a minian user to,
# "minisim[minian]" beside "minian[test]", running minian's own published test suite
# (from its sdist, unmodified) and its ground-truth notebook on our minisim.
VENVM := .venv-minian
BINM := $(abspath $(VENVM))/bin
STAMPM := $(VENVM)/.installed
MINIAN_VERSION := 2.0.2
MINIAN_SRC := .minian-src/minian-$(MINIAN_VERSION)
# These three fetch minian's online demo data (nothing here but the registries is reachable);
# none of them uses minisim.
MINIAN_NEEDS_DEMO_DATA := test_cross_reg.py test_pipeline.py test_pre_processing.py

.PHONY: demo test test-zarr2 test-photometry test-minian scorecard lint fuzz fuzz-ci bench bench-figures golden clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

$(STAMP2): pyproject.toml $(ZARR2_CONSTRAINTS)
	$(PY) -m venv $(VENV2)
	$(BIN2)/python -m pip install --quiet --upgrade pip
	$(BIN2)/python -m pip install --quiet -c $(ZARR2_CONSTRAINTS) -e ".[test]"
	$(BIN2)/python -c "import sys, zarr; sys.exit(0 if zarr.__version__.startswith('2.') else f'$(VENV2) resolved zarr {zarr.__version__}, not 2.x')"
	touch $(STAMP2)

$(STAMPP): pyproject.toml
	$(PY) -m venv $(VENVP)
	$(BINP)/python -m pip install --quiet --upgrade pip
	$(BINP)/python -m pip install --quiet $(IBL_PINS) $(NWB_PINS) -e ".[test,photometry,photometry-nwb]"
	touch $(STAMPP)

$(STAMPM): pyproject.toml
	$(PY) -m venv $(VENVM)
	$(BINM)/python -m pip install --quiet --upgrade pip
	$(BINM)/python -m pip install --quiet -e ".[minian]" "minian[test]==$(MINIAN_VERSION)" nbconvert
	touch $(STAMPM)

$(MINIAN_SRC)/pyproject.toml:
	mkdir -p .minian-src
	$(PY) -m pip download --quiet --no-deps --no-binary :all: minian==$(MINIAN_VERSION) -d .minian-src
	tar -xzf .minian-src/minian-$(MINIAN_VERSION).tar.gz -C .minian-src
	touch $@

test-minian: $(STAMPM) $(MINIAN_SRC)/pyproject.toml
	@command -v ffmpeg >/dev/null || (echo "installing Debian's ffmpeg (mediapy, in minian's notebook, calls it)" && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null)
	@$(BINM)/python -c "import minian, minisim, xarray, zarr; print(f'minian {minian.__version__ if hasattr(minian, \"__version__\") else \"$(MINIAN_VERSION)\"}, minisim {minisim.__version__} from {minisim.__file__}, xarray {xarray.__version__}, zarr {zarr.__version__}')"
	@echo "deselected (they download minian's demo data; none uses minisim): $(MINIAN_NEEDS_DEMO_DATA)"
	cd $(MINIAN_SRC) && $(BINM)/python -m pytest -p no:cacheprovider -q --no-cov -m "slow or not slow" \
		$(foreach t,$(MINIAN_NEEDS_DEMO_DATA),--ignore=minian/test/$(t)) minian/test
	@echo "our consumer tests: the 8-bit export through minian's median denoise, the truth beside save_minian's results"
	$(BINM)/python -m pytest -p no:cacheprovider -q --noconftest tests/minian_consumer

# minian's ground-truth notebook on this minisim (.venv-minian) and on minisim 1.0.3 (.venv-minian10, built by
# the script), scorecards side by side (~15 min on 2 cores). A benchmark, not a CI stage.
scorecard: $(STAMPM) $(MINIAN_SRC)/pyproject.toml
	@command -v ffmpeg >/dev/null || (echo "installing Debian's ffmpeg (mediapy, in minian's notebook, calls it)" && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null)
	$(PY) benchmarks/minian_scorecard.py

demo: $(STAMP)
	$(BIN)/minisim simulate --out recording.zarr --overwrite

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-zarr2: $(STAMP2)
	@$(BIN2)/python -c "import numcodecs, numpy, xarray, zarr; print(f'zarr {zarr.__version__}, xarray {xarray.__version__}, numcodecs {numcodecs.__version__}, numpy {numpy.__version__}')"
	$(BIN2)/python -m pytest -q -p no:cacheprovider $(ZARR2_TESTS)

test-photometry: $(STAMPP)
	@$(BINP)/python -c "import importlib.metadata as m; print(*(f'{p} {m.version(p)}' for p in ('ibl-photometry', 'ONE-api', 'ibllib', 'pandas')), sep=', ')"
	$(BINP)/python -m pytest -q -p no:cacheprovider tests/photometry_consumer tests/test_photometry.py tests/test_photometry_io.py

# Property-based fuzzing (tests/test_fuzz.py) with a long budget; `make test` runs a short one.
# FUZZ_EXAMPLES generated specs (command lines: a tenth, end-to-end simulations: a hundredth),
# FUZZ_KILLS SIGKILLs at random instants of save, replace, export and cache writes, in FUZZ_JOBS processes.
FUZZ_EXAMPLES ?= 20000
FUZZ_KILLS ?= 1000
FUZZ_JOBS ?= 2
# Seconds any one fuzz test may run (pytest-timeout); the kill-point jobs also bound each child and each job.
FUZZ_TIMEOUT ?= 7200
fuzz: $(STAMP)
	MINISIM_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) MINISIM_FUZZ_KILLS=$(FUZZ_KILLS) MINISIM_FUZZ_JOBS=$(FUZZ_JOBS) \
		$(BIN)/python -m pytest -q -p no:cacheprovider --timeout $(FUZZ_TIMEOUT) tests/test_fuzz.py

# The bounded budget of .ci/run's fuzz stage: the issue's acceptance (2,000 specs, 200 kill points).
fuzz-ci:
	$(MAKE) fuzz FUZZ_EXAMPLES=2000 FUZZ_KILLS=200 FUZZ_JOBS=2 FUZZ_TIMEOUT=600

lint: $(STAMP)
	$(BIN)/ruff check minisim tests benchmarks
	$(BIN)/ruff format --check minisim tests benchmarks
	$(BIN)/mypy minisim

# Regenerate the golden-master digests after an intended change of bytes (bump ENGINE_VERSION too).
golden: $(STAMP)
	MINISIM_UPDATE_GOLDEN=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_reproducibility.py -rs

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_throughput.py --frames 1200

# Every figure of the README's performance table in one run, against minisim 1.0.3 in its own venv (~15 min).
VENV10 := .venv-minisim10
$(VENV10)/.installed:
	$(PY) -m venv $(VENV10)
	$(VENV10)/bin/python -m pip install --quiet minisim==1.0.3
	touch $@

bench-figures: $(STAMP) $(VENV10)/.installed
	$(BIN)/python benchmarks/bench_figures.py --minisim10 $(VENV10)/bin/python

clean:
	rm -rf $(VENV) $(VENV2) $(VENVP) $(VENVM) $(VENVM)10 $(VENV10) .minian-src recording.zarr
