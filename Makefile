# GatewayZ observability stack. `make test` needs Python and Go (it builds the pinned validators);
# `make smoke` a Docker engine too (it starts its own); `make preview|up` the Pulumi CLI and a
# Docker daemon (local, or docker:host over ssh).
SHELL := /bin/bash
# `dev`: the local stack `make up` creates and runs (ops/dev.py); staging and production are the
# real ones (README, Deploy a real stack).
STACK ?= dev
VENV := .venv
PY := $(VENV)/bin/python
# Where the stacks' state lives, given to every pulumi command here through its environment
# (never `pulumi login`, so the user's own login stays as it is): for dev a file backend in the
# checkout (.dev/, not in git), for the real stacks one under HOME by default; any backend URL
# works, e.g. s3://<bucket>/gatewayz to share state.
ifeq ($(STACK),dev)
PULUMI_BACKEND_URL ?= file://$(CURDIR)/.dev/state
# The passphrase `make up` generated, unless one is given.
ifeq ($(PULUMI_CONFIG_PASSPHRASE)$(PULUMI_CONFIG_PASSPHRASE_FILE),)
export PULUMI_CONFIG_PASSPHRASE_FILE := $(CURDIR)/.dev/passphrase
endif
else
PULUMI_BACKEND_URL ?= file://$(HOME)/.pulumi-gatewayz
endif
export PULUMI_BACKEND_URL
# The CLI on PATH, else the one `make tools` built (toolchain/pulumi_engine.py, bin_dir()).
ifeq ($(shell command -v pulumi),)
export PATH := $(or $(GATEWAYZ_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/gatewayz-observability)/engine/bin:$(PATH)
endif
PULUMI := pulumi
# `make up` of the dev stack: the backend and Redis it watches (ops/dev.py has the defaults,
# both on this machine); given, they are set in Pulumi.dev.yaml.
BACKEND_METRICS_URL ?=
REDIS_ADDRESS ?=

BASE ?= origin/main
# Extra flags of `make verify`, e.g. VERIFY_ARGS='--synthetic --json'.
VERIFY_ARGS ?=
TUNNEL_ARGS ?=
# Sources of the Pulumi engine that are not Go modules (`make tools` only; docs/engine.md).
GATEWAYZ_VENDOR_DIR ?= ../shared/vendor

.PHONY: venv tools images test lint typecheck unit validate-all render diff validate smoke engine verify \
	docs bench \
	backend stack tunnel preview up down password destroy content-stack content-preview content-up content-destroy

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

# The policy pack runs in its own virtualenv (policy/PulumiPolicy.yaml).
policy/.venv/.installed: policy/requirements.txt
	python3 -m venv policy/.venv
	policy/.venv/bin/pip install --quiet --disable-pip-version-check -r policy/requirements.txt
	touch $@

## tools: build the pinned Prometheus, Alertmanager and redis_exporter from their Go modules,
## and the Pulumi engine (CLI, Python language host, docker provider) where the machine has none,
## into ~/.cache/gatewayz-observability (a no-op when built; docs/engine.md)
tools: venv
	$(PY) -m toolchain.releases
	GATEWAYZ_VENDOR_DIR='$(GATEWAYZ_VENDOR_DIR)' $(PY) -m toolchain.pulumi_engine

## images: local images of those releases (gatewayz-local/<service>:<tag>) on a Docker engine
images: tools
	$(PY) -m toolchain.images

## test: lint, types, unit tests, the pinned validators on both stacks
test: tools lint typecheck unit validate-all

lint: venv
	$(VENV)/bin/ruff check .

typecheck: venv
	$(VENV)/bin/mypy .

unit: venv
	$(VENV)/bin/pytest

validate-all: venv
	$(PY) -m review.validate --stack staging
	$(PY) -m review.validate --stack production

## render STACK=...: what the stack writes onto the host, offline, into build/<stack>/
render: venv
	$(PY) -m review.render --stack $(STACK) --out build/$(STACK)

## diff STACK=... BASE=<git ref>: unified diff of the rendered base and working tree
diff: venv
	$(PY) -m review.diff --stack $(STACK) --base $(BASE)

## validate STACK=...: render, then promtool, amtool and the Loki/Tempo key references
validate: venv
	$(PY) -m review.validate --stack $(STACK)

## smoke STACK=...: the rendered stack's containers on a real Docker engine (docs/smoke.md)
smoke: tools
	$(if $(filter dev,$(STACK)),$(error make smoke runs a real stack: STACK=staging or STACK=production))
	$(VENV)/bin/pytest tests/smoke -m smoke --stack $(STACK) -p no:cacheprovider

## engine STACK=...: the real Pulumi CLI and docker provider on the stack, against a file backend
## in a temporary directory and the smoke's Docker engine; STACK=dev runs `make up` and
## `make down` themselves on a copy of the checkout (docs/engine.md, The engine tier)
engine: tools policy/.venv/.installed
	$(VENV)/bin/pytest tests/engine -m engine --stack $(STACK) -p no:cacheprovider

## verify STACK=... [VERIFY_ARGS=...]: check a deployed stack over HTTP (README, After `pulumi up`)
verify: venv
	$(PY) -m ops.verify --stack $(STACK) $(VERIFY_ARGS)

## docs: regenerate Pulumi.yaml's config block, the README config table (settings/keys.py),
## the README's stack diagram, docs/stacks.md (each stack's diagram and alert routing) and
## docs/dashboards/ (each dashboard's layout as an SVG)
docs: venv
	$(PY) -m review.config_docs

## bench: resource count and program evaluation time per stack, under mocks
bench: venv
	$(PY) -m review.bench

# A file backend's directory must exist before the CLI opens it.
backend:
	@case "$$PULUMI_BACKEND_URL" in file://*) dir="$${PULUMI_BACKEND_URL#file://}"; \
	  mkdir -p "$${dir/#\~/$$HOME}";; esac

## stack STACK=...: select the stack in PULUMI_BACKEND_URL, creating it with passphrase secrets
stack: venv backend
	$(PULUMI) stack select $(STACK) --create --secrets-provider passphrase

## tunnel STACK=... [TUNNEL_ARGS=--all]: forward Grafana (--all: every port `make verify`
## calls) from an ssh:// docker:host (no-op for a local Docker)
tunnel: venv
	$(PY) -m ops.tunnel --stack $(STACK) $(TUNNEL_ARGS)

## preview / up / destroy STACK=staging|production (set PULUMI_CONFIG_PASSPHRASE first);
## preview and up enforce the policy pack
preview: stack policy/.venv/.installed
	$(PULUMI) preview --stack $(STACK) --diff --policy-pack policy

ifeq ($(STACK),dev)
## up: without STACK, the local dev stack: writes Pulumi.dev.yaml and its secrets once, runs
## pulumi up, and ends with the URLs to open [BACKEND_METRICS_URL=... REDIS_ADDRESS=...]
up: venv policy/.venv/.installed
	$(PY) -m ops.dev up $(if $(BACKEND_METRICS_URL),--backend-metrics-url '$(BACKEND_METRICS_URL)') \
	  $(if $(filter command line environment,$(origin REDIS_ADDRESS)),--redis-address '$(REDIS_ADDRESS)')
else
up: stack policy/.venv/.installed
	$(PULUMI) up --stack $(STACK) --policy-pack policy
endif

## down: destroy the dev stack's containers (its state and Pulumi.dev.yaml stay)
down: venv
	$(PY) -m ops.dev down

## password [STACK=...]: print the stack's Grafana admin password
password:
	@$(PULUMI) stack output grafanaAdminPassword --show-secrets --stack $(STACK)

destroy: stack
	$(PULUMI) destroy --stack $(STACK)

# Grafana's datasources, folders and dashboards are a project of their own (content/), one stack
# per observability stack, reading its outputs (Grafana's admin password). They need the Grafana
# plugin and a reachable Grafana API; `--refresh` recreates what a new data volume lost.
content-stack: venv backend
	$(PULUMI) -C content stack select $(STACK) --create --secrets-provider passphrase

## content-preview / content-up / content-destroy STACK=...: the Grafana content, after `make up`
content-preview: content-stack policy/.venv/.installed
	$(PULUMI) -C content preview --stack $(STACK) --diff --refresh --policy-pack $(CURDIR)/policy

content-up: content-stack policy/.venv/.installed
	$(PULUMI) -C content up --stack $(STACK) --refresh --policy-pack $(CURDIR)/policy

content-destroy: content-stack
	$(PULUMI) -C content destroy --stack $(STACK)
