#!/usr/bin/env bash
# Create .venv with Python 3.11 (if missing) and install crystalgenome with its test tools.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# torch is pinned to 2.13.0 in pyproject.toml (the CPU build); everything else comes from PyPI.
.venv/bin/python -m pip install --quiet -e ".[dev]"
