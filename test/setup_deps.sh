#!/usr/bin/env bash
# test/setup_deps.sh: installs everything hybridpref needs to build, test and
# run its demo on Debian 12.  Idempotent: when every package is already
# installed it returns at once without touching apt.
set -euo pipefail

PKGS=(
  make gcc perl
  postgresql-15 postgresql-client-15 postgresql-server-dev-15   # server, psql, pgbench, pgxs, TAP modules
  postgresql-15-cron postgresql-15-pgtap
  libopenblas-dev liblapacke-dev
  libipc-run-perl                                               # PostgreSQL::Test::Cluster
  clang llvm libclang-rt-14-dev                                 # sanitizers, libFuzzer
  python3-numpy python3-sklearn liblinear-tools jq              # evaluation baselines
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup_deps: all ${#PKGS[@]} packages already installed"
  exit 0
fi

echo "setup_deps: installing ${missing[*]}"
SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
