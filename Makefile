# ms5.factory_telemetry: developer and CI entry points. See README.md.
SHELL := /bin/bash
VENV ?= .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export MOLECULE_GLOB := molecule/*/molecule.yml

.PHONY: help setup images docker-engine test lint unit molecule docs demo bench bench-cutover clean

help:
	@echo "make setup            install apt packages, the pinned venv, start Docker, build test images"
	@echo "make test             lint, syntax checks, unit tests, every Molecule scenario"
	@echo "make lint             yamllint, ansible-lint --profile production, shellcheck, syntax checks"
	@echo "make unit             pytest unit tests"
	@echo "make molecule S=NAME  one Molecule scenario (molecule test -s NAME)"
	@echo "make docs             regenerate the role READMEs' reference from meta/argument_specs.yml (aar-doc)"
	@echo "make demo             deploy site.yml into a local sandbox host"
	@echo "make bench            load benchmark against the sandbox database"
	@echo "make bench-cutover    the cutover's write pause and total time (throwaway containers)"

setup:
	bash scripts/setup.sh

images: docker-engine
	bash scripts/build-test-images.sh

docker-engine:
	bash scripts/ensure-docker.sh

test:
	bash scripts/run-tests.sh

lint:
	MS5_TEST_STAGES=lint bash scripts/run-tests.sh

unit:
	MS5_TEST_STAGES=unit bash scripts/run-tests.sh

molecule:
	MS5_TEST_STAGES=molecule MS5_SCENARIOS="$(S)" bash scripts/run-tests.sh

docs:
	bash scripts/check-role-docs.sh --fix

demo:
	bash scripts/demo.sh

bench:
	bash scripts/bench.sh $(ARGS)

bench-cutover:
	bash scripts/bench-cutover.sh $(ARGS)

clean:
	rm -rf .collections .pytest_cache
