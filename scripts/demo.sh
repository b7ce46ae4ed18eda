#!/usr/bin/env bash
# Set everything up, then run the demo flow on real containers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/coops run examples/demo.yaml "$@"
