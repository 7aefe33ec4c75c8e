# Two commands matter: `make run` and `make test`. Both install what is missing first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
EVAL := ../shared/eval
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
export OMP_THREAD_LIMIT ?= 1

.PHONY: run test lint eval bench samples system-deps clean

system-deps:
	@./scripts/install-system-deps.sh

# RapidOCR's wheel ships its ONNX models (nothing is downloaded at run time); --no-deps because it
# requires the desktop opencv-python, while its real dependencies are pinned in pyproject.toml.
RAPIDOCR := rapidocr-onnxruntime==1.4.4

$(STAMP): pyproject.toml Makefile | system-deps
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@$(PY) -m pip install -q --disable-pip-version-check --no-deps '$(RAPIDOCR)'
	@touch $(STAMP)

## run: migrate the database (DATABASE_URL, default sqlite:///./var/cards.db), import samples/ for a demo
##      uploader, print a demo API key per role (new keys on every run), serve the API on 127.0.0.1:8000
run: export DATABASE_URL ?= sqlite:///./var/cards.db
run: system-deps $(STAMP)
	$(VENV)/bin/cards db upgrade
	$(VENV)/bin/cards demo --ensure-only
	$(VENV)/bin/cards import samples --uploader demo-uploader --basis received_in_person \
	  --uses invites,catalog,partner_sharing --jobs $(JOBS) || test $$? -eq 1  # 1: some cards failed, rest in
	$(VENV)/bin/cards demo
	$(VENV)/bin/cards serve --host 127.0.0.1 --port 8000

## test: lint, type check (strict on core/ and services/), then every test, with the real tesseract
test: system-deps $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

## eval: score extraction on the shared real cards and on samples/
eval: system-deps $(STAMP)
	@mkdir -p var/eval
	@for set in scans photos; do \
	  echo "== $$set"; \
	  $(VENV)/bin/cards extract --format jsonl --jobs $(JOBS) $(EVAL)/$$set > var/eval/$$set.jsonl || true; \
	  $(PY) $(EVAL)/score.py $(EVAL)/$$set/labels.json var/eval/$$set.jsonl --json var/eval/$$set.score.json; \
	done
	@echo "== samples"
	@$(VENV)/bin/cards extract --format jsonl --jobs $(JOBS) samples > var/eval/samples.jsonl || true
	@$(PY) $(EVAL)/score.py samples/labels.json var/eval/samples.jsonl --json var/eval/samples.score.json

## bench: throughput against bare tesseract, per-stage timings; storage at scale; API latency; load
##        (uploads/s, p50/p95/p99 at 1/4/16 clients, concurrency held 60 s); more kill points;
##        the OCR queue (cards/s in process vs 1 and 2 workers, overhead per card, upload latency)
bench: system-deps $(STAMP)
	$(PY) bench/speed.py --images $(EVAL)/scans
	$(PY) bench/speed.py --images $(EVAL)/scans --profile fast --out var/bench/speed-fast.json
	$(PY) bench/speed.py --images $(EVAL)/scans --profile best --out var/bench/speed-best.json --repeat 1
	$(PY) bench/profiles.py
	$(PY) bench/records.py --no-suggested-indexes
	$(PY) bench/api.py
	$(PY) bench/load.py
	KILL_POINTS=25 KILL_POINTS_REPORT=var/bench/kill-points.jsonl $(VENV)/bin/pytest -q -s tests/faults/test_kill_points.py
	$(PY) bench/queue_throughput.py
	$(PY) bench/catalog_scale.py

## samples: regenerate the synthetic cards (deterministic)
samples: $(STAMP)
	$(PY) samples/generate.py --out samples

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
