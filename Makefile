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

.PHONY: help venv tools images test lint typecheck unit validate-all render diff validate smoke engine \
	verify docs bench bench-engine \
	backend stack tunnel tunnel-stop preview up down password destroy content-stack content-preview content-up \
	content-destroy

# `make` alone lists the targets. Each user-facing target has one `## <target> [VARS]: <what>`
# line above it, which is all `make help` prints (tests/test_make.py holds every target to it).
.DEFAULT_GOAL := help

## help: list the targets, one line each (what `make` alone does)
help:
	@printf 'make <target> [VAR=value ...]  (STACK=dev by default: the local stack of `make up`; or staging, production)\n\n'
	@awk '/^## / { line = substr($$0, 4); i = index(line, ": "); \
	  printf "  %-38s %s\n", substr(line, 1, i - 1), substr(line, i + 2) }' \
	  $(firstword $(MAKEFILE_LIST))

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

## venv: the virtualenv .venv, from requirements-dev.txt (targets make it)
venv: $(VENV)/.installed

# The policy pack runs in its own virtualenv (policy/PulumiPolicy.yaml).
policy/.venv/.installed: policy/requirements.txt
	python3 -m venv policy/.venv
	policy/.venv/bin/pip install --quiet --disable-pip-version-check -r policy/requirements.txt
	touch $@

# The pinned Prometheus, Alertmanager and redis_exporter from their Go modules, the Kubernetes
# control plane the tests start (etcd, kube-apiserver, kube-controller-manager), the Pulumi
# engine (CLI, Python language host, docker and kubernetes providers) where the machine has
# none, and the Mermaid and LogQL parsers the tests run with node (npm ci of toolchain/node/),
# into ~/.cache/gatewayz-observability: one line per build as it starts and ends, one per piece
# already built (docs/toolchain.md, docs/engine.md).
## tools: build the pinned releases, the Kubernetes control plane, the Pulumi engine, the parsers (once)
tools: venv
	$(PY) -m toolchain.releases
	$(PY) -m toolchain.kubernetes
	GATEWAYZ_VENDOR_DIR='$(GATEWAYZ_VENDOR_DIR)' $(PY) -m toolchain.pulumi_engine
	$(PY) -m toolchain.node_packages

## images: local images of those releases; Loki/Tempo/Grafana stand-ins
images: tools
	$(PY) -m toolchain.images

## test: tools, lint, typecheck, unit and validate-all (no Docker)
test: tools lint typecheck unit validate-all

## lint: ruff on the repository
lint: venv
	$(VENV)/bin/ruff check .

## typecheck: mypy, strict
typecheck: venv
	$(VENV)/bin/mypy .

## unit: pytest, without the smoke and engine tiers
unit: venv
	$(VENV)/bin/pytest

## validate-all: `make validate` on both stacks
validate-all: venv
	$(PY) -m review.validate --stack staging
	$(PY) -m review.validate --stack production

## render STACK=...: what the stack puts on its host, offline, into build/<stack>/
render: venv
	$(PY) -m review.render --stack $(STACK) --out build/$(STACK)

# Only the diff reaches stdout (`make diff | tee render.diff` in .github/workflows/pr.yml); the
# virtualenv's setup and the line saying which files differ, or none, go to stderr.
## diff STACK=... BASE=<git ref>: diff of what BASE and the working tree render
diff:
	@$(MAKE) --no-print-directory -s venv >&2
	@$(PY) -m review.diff --stack $(STACK) --base $(BASE)

## validate STACK=...: render, then promtool, amtool, Loki/Tempo key checks
validate: venv
	$(PY) -m review.validate --stack $(STACK)

## smoke STACK=...: the rendered stack's containers on Docker (docs/smoke.md)
smoke: tools
	$(if $(filter dev,$(STACK)),$(error make smoke runs a real stack: STACK=staging or STACK=production))
	$(VENV)/bin/pytest tests/smoke -m smoke --stack $(STACK) -p no:cacheprovider

# The real Pulumi CLI and docker provider on the stack, against a file backend in a temporary
# directory and the smoke's Docker engine; STACK=dev runs `make up` and `make down` themselves on
# a copy of the checkout; STACK=cluster (`platform: kubernetes`) the kubernetes provider against
# the tests' Kubernetes control plane, no Docker (docs/engine.md, The engine tier).
## engine STACK=...: the real Pulumi CLI on the stack, or on `make up` itself (docs/engine.md)
engine: tools policy/.venv/.installed
	$(VENV)/bin/pytest tests/engine -m engine --stack $(STACK) -p no:cacheprovider

# Nothing but ops.verify's own output on stdout, so `make verify VERIFY_ARGS=--json | jq .` works:
# the recipe is not echoed and the virtualenv's setup goes to stderr.
## verify STACK=... [VERIFY_ARGS=...]: check the deployed stack: targets, alerts, retention, dashboards
verify:
	@$(MAKE) --no-print-directory -s venv >&2
	@$(PY) -m ops.verify --stack $(STACK) $(VERIFY_ARGS)

# From settings/keys.py, services.py, the builders and the runbooks beside the rules; says
# what it rewrote, or that nothing was.
## docs: regenerate Pulumi.yaml's config, the README's table and diagram, docs/alerts.md, docs/stacks.md, docs/dashboards/
docs: venv
	@$(PY) -m review.config_docs

## bench: resources and program time per stack, under mocks
bench: venv
	$(PY) -m review.bench

# Rounds of `make bench-engine` (the figures are their medians).
ROUNDS ?= 3
# Our `pulumi up` against `docker compose up --wait` on the same engine, images and containers,
# side by side; builds docker compose from its Go module first. Creates containers: not part of
# `make test` or CI.
## bench-engine STACK=... [ROUNDS=3]: pulumi up against docker compose, side by side (docs/benchmark.md)
bench-engine: tools
	$(PY) -m toolchain.compose
	$(PY) -m review.bench_engine --stack $(STACK) --rounds $(ROUNDS)

# A file backend's directory must exist before the CLI opens it.
backend:
	@case "$$PULUMI_BACKEND_URL" in file://*) dir="$${PULUMI_BACKEND_URL#file://}"; \
	  mkdir -p "$${dir/#\~/$$HOME}";; esac

## stack STACK=...: select the stack (create it, passphrase secrets)
stack: venv backend
	$(PULUMI) stack select $(STACK) --create --secrets-provider passphrase

# In the background, tracked by an ssh control socket per stack (ops/tunnel.py); a no-op for a
# local Docker.
## tunnel STACK=... [TUNNEL_ARGS=--all]: forward Grafana (--all: every port) from an ssh:// host
tunnel: venv
	@$(PY) -m ops.tunnel --stack $(STACK) $(TUNNEL_ARGS)

## tunnel-stop STACK=...: stop that tunnel (says so when none runs)
tunnel-stop: venv
	@$(PY) -m ops.tunnel --stack $(STACK) --stop

# preview and up enforce the policy pack; set PULUMI_CONFIG_PASSPHRASE first.
## preview STACK=...: pulumi preview --diff, with the policy pack
preview: stack policy/.venv/.installed
	$(PULUMI) preview --stack $(STACK) --diff --policy-pack policy

ifeq ($(STACK),dev)
# Without STACK: the local dev stack (ops/dev.py) writes Pulumi.dev.yaml and its secrets once,
# runs pulumi up, and ends with the URLs to open.
## up [STACK=...]: no STACK: the dev stack (BACKEND_METRICS_URL=, REDIS_ADDRESS=); else pulumi up
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

## destroy STACK=...: pulumi destroy
destroy: stack
	$(PULUMI) destroy --stack $(STACK)

# Grafana's datasources, folders and dashboards are a project of their own (content/), one stack
# per observability stack, reading its outputs (Grafana's admin password). They need the Grafana
# plugin and a reachable Grafana API; `--refresh` recreates what a new data volume lost.
## content-stack STACK=...: select the Grafana content stack (content/)
content-stack: venv backend
	$(PULUMI) -C content stack select $(STACK) --create --secrets-provider passphrase

## content-preview STACK=...: preview Grafana's datasources and dashboards
content-preview: content-stack policy/.venv/.installed
	$(PULUMI) -C content preview --stack $(STACK) --diff --refresh --policy-pack $(CURDIR)/policy

## content-up STACK=...: apply them (after make up)
content-up: content-stack policy/.venv/.installed
	$(PULUMI) -C content up --stack $(STACK) --refresh --policy-pack $(CURDIR)/policy

## content-destroy STACK=...: remove them from Grafana
content-destroy: content-stack
	$(PULUMI) -C content destroy --stack $(STACK)
