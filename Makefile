# Two commands do everything: `make run` and `make test` (both start with `make install`).
SHELL := /bin/bash
PY := .venv/bin/python
PIP := .venv/bin/pip
STAMP := .venv/.installed
export SECRET_KEY ?= insecure-local-key-for-tests-and-demo-only-0123456789abcdef

.PHONY: install run test bench lint system-deps

install: system-deps $(STAMP)

# libzbar0 for pyzbar, a CJK font for PDF forms: installed only when missing.
system-deps:
	@if ! ldconfig -p | grep -q libzbar.so.0; then \
	  echo "installing libzbar0 (pyzbar needs it)"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq libzbar0 >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq libzbar0 >/dev/null; fi; \
	fi
	@if [ ! -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then \
	  echo "installing fonts-wqy-microhei (embedded in the PDF forms)"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq fonts-wqy-microhei >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq fonts-wqy-microhei >/dev/null; fi; \
	fi

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || python3 -m venv .venv
	$(PIP) install -q --disable-pip-version-check -r requirements.lock
	@touch $(STAMP)

run: install
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py seed_demo
	DEBUG=1 $(PY) manage.py runserver 127.0.0.1:8000

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) bench/run.py $(BENCH)

lint: install
	.venv/bin/ruff check .
