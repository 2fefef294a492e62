# Two commands set everything up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Private RabbitMQ and PostgreSQL for the tests, on loopback, stopped after the run;
# Debian's chromium (browser tests) and promtool (alert rules), installed if missing.
SERVICES := /tmp/case-event-hub-test
AMQP_PORT ?= 10729
PG_PORT ?= 15429
TLS_PORT ?= 10739

.PHONY: all evaluation-demo test lint typecheck unit unit-fast services-down demo demo-console bench bench-quick bench-envelope bench-pipeline bench-bad schemas asyncapi console-openapi clean bench-ledger bench-memory bench-commit

all: test

# The three-area evaluation (issue 22): a fictional cohort through three area hubs to
# the evaluator, whose released report (charts, CSV, a page that opens offline) lands
# in a new folder under $(EVALUATION_OUT).
EVALUATION_OUT ?= evaluation-report
evaluation-demo: $(STAMP)
	@out="$(EVALUATION_OUT)/$$(date +%Y%m%d-%H%M%S)"; \
	$(BIN)/hub evaluation-demo --out "$$out" && \
	{ command -v xdg-open >/dev/null && [ -n "$${DISPLAY:-}" ] && xdg-open "$$out/index.html" >/dev/null 2>&1 || true; }

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --editable '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# The whole suite against real services: started here, stopped on any exit. A part of
# it: `make unit PYTEST_ARGS=tests/hub/scale`.
unit: $(STAMP)
	@set -e; \
	trap '$(MAKE) --no-print-directory services-down' EXIT; \
	amqp="$$(deploy/dev/rabbitmq.sh start $(SERVICES)/rabbitmq $(AMQP_PORT))"; \
	postgres="$$(deploy/dev/postgres.sh start $(SERVICES)/postgres $(PG_PORT))"; \
	chromium="$$(deploy/dev/chromium.sh)"; \
	promtool="$$(deploy/dev/promtool.sh)"; \
	export HUB_TEST_AMQP_URL="$$amqp" HUB_TEST_POSTGRES_DSN="$$postgres" \
		HUB_TEST_RABBITMQ_DIR="$(SERVICES)/rabbitmq" HUB_TEST_TLS_DIR="$(SERVICES)/rabbitmq-tls" \
		HUB_TEST_TLS_PORT="$(TLS_PORT)" HUB_TEST_CHROMIUM="$$chromium" \
		HUB_TEST_PROMTOOL="$$promtool" HUB_REQUIRE_SERVICES=1; \
	timeout 1800 $(BIN)/pytest $(PYTEST_ARGS)

# The suite without services: RabbitMQ and PostgreSQL cases skip.
unit-fast: $(STAMP)
	timeout 1800 $(BIN)/pytest $(PYTEST_ARGS)

services-down:
	-@deploy/dev/rabbitmq.sh stop $(SERVICES)/rabbitmq >/dev/null 2>&1
	-@deploy/dev/rabbitmq.sh stop $(SERVICES)/rabbitmq-tls >/dev/null 2>&1
	-@deploy/dev/postgres.sh stop $(SERVICES)/postgres >/dev/null 2>&1

test: lint typecheck unit

# The case on the in-memory broker; `make demo BROKER=amqp://user:password@host:port/vhost`
# plays it on that RabbitMQ (passed in the environment, not on a command line).
demo: $(STAMP)
	@HUB_DEMO_BROKER='$(BROKER)' $(BIN)/hub demo

# The case again, kept in build/demo (made anew), then the console on it: the URL and a
# sign-in token per role are printed; Ctrl-C stops it. `CONSOLE_PORT=8444` picks the port.
DEMO_DIR := build/demo
CONSOLE_PORT ?= 8443
demo-console: $(STAMP)
	@rm -rf $(DEMO_DIR)
	@HUB_DEMO_BROKER='$(BROKER)' $(BIN)/hub demo --keep $(DEMO_DIR)
	@$(BIN)/hub demo console $(DEMO_DIR) --port $(CONSOLE_PORT)

# The hub against the raw broker (bench/hub_vs_raw, docs/performance.md): on a private
# RabbitMQ started here and stopped on any exit, or on HUB_BENCH_AMQP_URL when set (in the
# environment, never on the command line). HUB_BENCH_POSTGRES_DSN puts the ledger there;
# HUB_BENCH_BROKER_PID_FILE (set here for the private node) lets it read RabbitMQ's CPU.
BENCH_STAMP := $(VENV)/.installed-bench
BENCH_SERVICES := /tmp/case-event-hub-bench
BENCH_AMQP_PORT ?= 10741

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet --editable '.[dev,bench]'
	touch $(BENCH_STAMP)

define bench_run
	@set -e; \
	amqp="$${HUB_BENCH_AMQP_URL:-}"; \
	if [[ -z "$$amqp" ]]; then \
		trap 'deploy/dev/rabbitmq.sh stop $(BENCH_SERVICES)/rabbitmq >/dev/null 2>&1 || true' EXIT; \
		amqp="$$(deploy/dev/rabbitmq.sh start $(BENCH_SERVICES)/rabbitmq $(BENCH_AMQP_PORT))"; \
		export HUB_BENCH_BROKER_PID_FILE=$(BENCH_SERVICES)/rabbitmq/rabbitmq.pid; \
	fi; \
	HUB_BENCH_AMQP_URL="$$amqp" timeout 3600 $(BIN)/python -m bench.hub_vs_raw $(1)
endef

bench: $(BENCH_STAMP)
	$(call bench_run,--plan full --docs docs/performance.md)

# A reduced run (under two minutes, node start included) writing the same results file.
bench-quick: $(BENCH_STAMP)
	$(call bench_run,--plan quick --command-label 'make bench-quick')

# Cost per envelope operation (bench/envelope_ops.py).
bench-envelope: $(STAMP)
	$(BIN)/python -m bench.envelope_ops

schemas: $(STAMP)
	$(BIN)/hub schemas export

asyncapi: $(STAMP)
	$(BIN)/python -m hub.broker.asyncapi

# docs/console/openapi.json, from the console's route table (hub/console/openapi.py).
console-openapi: $(STAMP)
	$(BIN)/python -c 'from hub.console.openapi import write_openapi; write_openapi()'

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis

# Events per second through the whole pipeline, memory and RabbitMQ + PostgreSQL.
bench-pipeline: $(STAMP)
	@set -e; \
	trap '$(MAKE) --no-print-directory services-down' EXIT; \
	amqp="$$(deploy/dev/rabbitmq.sh start $(SERVICES)/rabbitmq $(AMQP_PORT))"; \
	postgres="$$(deploy/dev/postgres.sh start $(SERVICES)/postgres $(PG_PORT))"; \
	HUB_BENCH_AMQP_URL="$$amqp" HUB_BENCH_POSTGRES_DSN="$$postgres" \
		$(BIN)/python -m bench.pipeline_throughput --events 500

# Good traffic alone against good interleaved with bad, in one process (ratios).
bench-bad: $(STAMP)
	$(BIN)/python -m bench.bad_traffic

# Ledger appends per second: group commit against one at a time, SQLite and PostgreSQL.
bench-ledger: $(STAMP)
	@set -e; \
	trap '$(MAKE) --no-print-directory services-down' EXIT; \
	postgres="$$(deploy/dev/postgres.sh start $(SERVICES)/postgres $(PG_PORT))"; \
	HUB_BENCH_POSTGRES_DSN="$$postgres" $(BIN)/python -m bench.ledger_append

# SQLite commits on the event loop against in a thread (ADR 0013), in one run.
bench-commit: $(STAMP)
	$(BIN)/python -m bench.commit_handoff

# A worker's resident memory over 100,000 events (about 10 minutes).
bench-memory: $(STAMP)
	$(BIN)/python -m bench.memory_soak --events 100000
