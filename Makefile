# Two commands for a fresh machine: `make run` (install + start the app), `make test` (install + run the tests).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint install browser services index eval bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first, pinned: it is the CPU wheel here; any other spec pulls a multi-GB CUDA build.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[st,test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python app.py

# Debian's Chromium and CJK fonts for the browser tests (Playwright drives /usr/bin/chromium; no download).
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-noto-cjk; \
	fi

# Redis (shared rate limits between instances) and PostgreSQL (the conversation log on a real server) for the
# tests that start them on 127.0.0.1; tests/services.py runs them as an unprivileged user.
services:
	@if ! command -v redis-server >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq redis-server postgresql; \
	fi

# The gate every change passes: style and types, then the tests.
lint: install
	$(BIN)/ruff check bot tests bench app.py
	$(BIN)/mypy bot

test: install browser services lint
	$(BIN)/python -m pytest -q

eval: install
	$(BIN)/bot eval --qa ../shared/eval/dev.jsonl --report results

index: install
	$(BIN)/bot index

bench: install
	$(BIN)/python bench/perf.py

clean:
	rm -rf $(VENV) index/chroma index/bm25 index/chunks.jsonl index/manifest.json
