#!/usr/bin/env bash
# test/demo.sh: installs dependencies, builds and installs hybridpref, starts a
# throwaway cluster and runs test/demo.sql in it: synthetic preference data,
# a trained reward model, held-out accuracy and uncertainty.
set -euo pipefail
cd "$(dirname "$0")/.."
START=$SECONDS

echo "==== dependencies ===="
bash test/setup_deps.sh

echo "==== build and install ===="
mkdir -p .tmp
if ! { make -j2 && make install; } >.tmp/demo-build.log 2>&1; then
  tail -n 40 .tmp/demo-build.log
  echo "build failed (full log: .tmp/demo-build.log)"
  exit 1
fi
echo "installed into $(pg_config --pkglibdir)"

echo "==== cluster ===="
source test/cluster.sh
cluster_start

psql -X -q -v ON_ERROR_STOP=1 -f test/demo.sql
echo
echo "demo finished in $((SECONDS - START)) s"
