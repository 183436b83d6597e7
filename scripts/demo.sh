#!/usr/bin/env bash
# The main job, from nothing: set up .venv and run `crystalgenome demo` on the built-in data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/crystalgenome demo "$@"
