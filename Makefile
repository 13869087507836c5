# Cadenza: `make demo` makes a song with the embedded engine; `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-neural install dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# tinysoundfont declares pyaudio (live playback only, unused here), which does not build without
# portaudio headers: install it without dependencies. The transcribe extra and basic-pitch (whose
# metadata pulls TensorFlow, unneeded for its ONNX model) let `cadenza cover` restyle any audio.
# constraints.txt pins every package to the versions the tests last passed with: without it pip's
# resolver backtracks for a quarter of an hour through botocore/aiobotocore and torch builds.
$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e '.[transcribe]'
	$(BIN)/pip install -q -c constraints.txt --no-deps "tinysoundfont>=0.3.7,<0.4" "basic-pitch==0.4.0"
	touch $(STAMP)

# torch first, pinned, so pip takes the CPU wheel instead of resolving a CUDA build for the neural extra;
# with setuptools kept below 81, whose pkg_resources pyworld (the singing voice) still imports.
$(STAMP)-dev: $(STAMP)
	$(BIN)/pip install -q -c constraints.txt torch==2.13.0 "setuptools<81"
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)-dev

install: $(STAMP)
dev: $(STAMP)-dev

demo: $(STAMP)
	$(BIN)/cadenza generate "warm lofi hip hop, rainy night, rhodes and vinyl crackle" --duration 30 --seed 7 --out demo
	@echo "Your song is in ./demo/"

lint: $(STAMP)-dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

# One process per core, at most four, each taking whole test files (module fixtures such as a
# rendered song or a PostgreSQL server are made once per file, not once per process).
test: lint
	$(BIN)/python -m pytest -q -ra -n auto --maxprocesses 4 --dist loadfile

bench: $(STAMP)-dev
	$(BIN)/python -m benchmarks.run

# A musicgen-small-sized model with random weights: seconds per second of audio and peak memory;
# LTX: seconds per denoising step of the tiny model (and LTX-Video 2B-sized per preset on CUDA).
bench-neural: $(STAMP)-dev
	$(BIN)/python -m benchmarks.neural
	$(BIN)/python -m benchmarks.ltx

clean:
	rm -rf $(VENV) demo cadenza-out .pytest_cache .ruff_cache
