#!/usr/bin/env bash
# Set everything up, then run the checks and the whole test suite: ruff, mypy, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
printf '\033[1m==> ruff\033[0m\n'
.venv/bin/ruff check src tests bench
printf '\033[1m==> mypy\033[0m\n'
.venv/bin/mypy
printf '\033[1m==> pytest\033[0m\n'
exec .venv/bin/pytest -ra "$@"
