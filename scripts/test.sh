#!/usr/bin/env bash
# The whole test suite, from nothing: set up .venv, lint, run pytest.
# Real-data tests use $CRYSTALGENOME_DATA_DIR, default ../shared/data beside the repository,
# and skip cleanly when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests benchmarks
.venv/bin/python -m pytest -q "$@"
