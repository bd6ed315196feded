# Two commands on a fresh machine:  `make demo`  and  `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
OC     := $(VENV)/bin/ordercast

.PHONY: install tools up down status demo test lint bench

install: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

tools:           ## Debian packages and validators the tests use (prometheus, chromium, ...)
	bash deploy/tools/install.sh

up: install      ## Kafka (KRaft) + moto on loopback, topics, sender identities
	$(OC) stack up

down:
	$(OC) stack down

status:
	$(OC) stack status

demo: up         ## start the stack, run the worker on sample traffic, show what was delivered
	$(OC) demo

test: install tools up
	$(PY) -m pytest -ra

lint: install
	$(VENV)/bin/ruff check streams schemas channels tests bench

bench: up
	$(PY) -m bench
