# `make test` is the one command that checks everything; .ci/run calls exactly it.
# Each step installs what the suite needs and is a fast no-op when already done.

PYTHON ?= python
STAMP_DIR := .cache
DEV_STAMP := $(STAMP_DIR)/dev-install.stamp

.PHONY: test install postgres browser fhirserver lint check-types check-imports pytest

test: install postgres browser fhirserver lint check-types check-imports pytest

# The package and its dev tools (editable, so the tests run the tree as it is).
# Re-installed when pyproject.toml changes or the console script is gone.
install:
	@if [ ! -f $(DEV_STAMP) ] || [ pyproject.toml -nt $(DEV_STAMP) ] || ! command -v b12-cds >/dev/null; then \
	  echo "make: pip install -e '.[dev]'"; \
	  $(PYTHON) -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -e '.[dev]' \
	  && mkdir -p $(STAMP_DIR) && touch $(DEV_STAMP); \
	fi

# PostgreSQL server binaries for the store tests (they start their own cluster on loopback).
postgres:
	@bash .ci/install-postgres.sh

# Debian's chromium + chromedriver for the preview page's browser tests (tests/browser).
browser:
	@bash .ci/install-browser.sh

# The test FHIR server (Medplum's engine + Node 22 from npm, into tests/fhirserver/node_modules)
# for the FHIR fallback tests; the pytest fixture would also install it lazily.
fhirserver:
	@bash tests/fhirserver/install.sh

lint: install
	ruff check .

check-types: install
	mypy

check-imports: install
	lint-imports

# pytest exits 5 when it collects no tests; that is a failure here, said out loud.
pytest: install postgres browser fhirserver
	@$(PYTHON) -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; \
	exit $$status
