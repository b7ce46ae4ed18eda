#!/usr/bin/env bash
# Set up ContainerOps on a Debian 12 machine, as root: Debian packages, a running
# Docker Engine, the Python environment in .venv, and the base images.
# Idempotent: fast when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# postgresql, mariadb-server: the tests start servers of their own (initdb and postgres,
# mariadb-install-db and mariadbd) in temporary folders; none runs as a service.
# chromium: the web UI's end-to-end tests drive it (tests/ui, through npm's playwright-core).
# iproute2, iptables, socat: the swarm executor's tests start a multi-node swarm on this machine
# (tests/swarmharness.py: network namespaces, a bridge, forwarders to the registry).
packages=(docker.io docker-registry busybox-static mmdebstrap python3 python3-venv python3-pip git ca-certificates curl
          postgresql mariadb-server chromium iproute2 iptables socat)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # MariaDB's package starts a server as it installs; nothing here needs one. A policy-rc.d
  # of our own (only where the machine has none) says no to that service alone. A MariaDB
  # installed before is the machine's own: left as it is.
  new_mariadb=""
  [[ " ${missing[*]} " == *" mariadb-server "* ]] && new_mariadb=1
  policy=""
  if [ -n "$new_mariadb" ] && [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\ncase "$1" in mariadb|mysql) exit 101;; esac\nexit 0\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$policy" ]; then rm -f "$policy"; trap - EXIT; fi
  # ...nor at boot (systemd machines).
  if [ -n "$new_mariadb" ] && [ -d /run/systemd/system ] && systemctl is-enabled --quiet mariadb 2>/dev/null; then
    systemctl disable --now --quiet mariadb || true
  fi
fi

if ! docker info >/dev/null 2>&1; then
  say "starting dockerd"
  mkdir -p /var/log
  nohup dockerd >/var/log/coops-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { tail -20 /var/log/coops-dockerd.log >&2; echo "dockerd did not start" >&2; exit 1; }
fi

# Node.js 20.19 or newer builds the web UI (ui/, Vite). Debian 12's own nodejs is 18: too old,
# so it comes from NodeSource's Debian repository when this machine has none recent enough.
node_ok() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 \
    && node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'
}
if ! node_ok; then
  say "installing Node.js 20 from NodeSource (Debian 12's nodejs 18 is too old for the web UI's build)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends gnupg >/dev/null
  install -d -m 0755 /etc/apt/keyrings
  curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor --yes -o /etc/apt/keyrings/nodesource.gpg
  echo "deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_20.x nodistro main" \
    > /etc/apt/sources.list.d/nodesource.list
  apt-get update -qq
  apt-get install -y -qq nodejs >/dev/null
  node_ok || { echo "Node.js 20.19 or newer is needed to build the web UI; found: $(node --version 2>&1)" >&2; exit 1; }
fi

# The web UI: its npm packages exactly as package-lock.json pins them, then its build into the
# Python package (src/containerops/server/ui_dist, package data, git-ignored). Both are redone
# only when their inputs changed.
if [ ! -f ui/node_modules/.package-lock.json ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  say "installing the web UI's npm packages (npm ci)"
  (cd ui && npm ci --no-audit --no-fund --loglevel=error)
fi
ui_dist=src/containerops/server/ui_dist
if [ ! -f "$ui_dist/index.html" ] \
   || [ -n "$(find ui -path ui/node_modules -prune -o -type f -newer "$ui_dist/index.html" -print -quit)" ]; then
  say "building the web UI (npm run build in ui/)"
  (cd ui && npm run build --silent >/dev/null)
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$python" -m venv .venv
fi
if ! .venv/bin/python -c 'import containerops, pytest, hypothesis, ruff, mypy, matplotlib' >/dev/null 2>&1 \
   || [ pyproject.toml -nt .venv/.installed ]; then
  say "installing ContainerOps and its development and benchmark tools into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev,bench]'
  touch .venv/.installed
fi
# Bytecode for our own modules, as pip writes it for an installed wheel: an editable install
# would otherwise compile them at every start where PYTHONDONTWRITEBYTECODE is set (~60 ms).
.venv/bin/python -m compileall -q src/containerops >/dev/null

say "building the base images (fast when up to date)"
.venv/bin/coops images build-base

# The component registry (Debian's docker-registry) on 127.0.0.1, storage under COOPS_HOME:
# push and pull of components go there. Left alone when one already answers there.
if ! .venv/bin/coops registry status >/dev/null 2>&1; then
  say "starting the component registry (coops registry start)"
  .venv/bin/coops registry start
fi
