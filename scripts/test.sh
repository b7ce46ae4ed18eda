#!/usr/bin/env bash
# Set everything up, then run the checks and the whole test suite: ruff, mypy, pytest (the
# server tests once more on PostgreSQL and on MariaDB). Arguments go to one pytest run instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
printf '\033[1m==> ruff\033[0m\n'
.venv/bin/ruff check src tests bench
printf '\033[1m==> mypy\033[0m\n'
.venv/bin/mypy
printf '\033[1m==> pytest\033[0m\n'
if [ $# -gt 0 ]; then  # the tests named, on SQLite unless they say --database
    exec .venv/bin/pytest -ra "$@"
fi
.venv/bin/pytest -ra --durations=25  # the slowest tests: CI has a time budget
# The store's tests ran on all three databases; the server's ran on SQLite: now on the others.
for database in postgresql mariadb; do
    printf '\033[1m==> pytest: the server tests on %s\033[0m\n' "$database"
    .venv/bin/pytest -ra tests/server --database "$database"
done
