# test/eval/lib.bash: sourced by the test/eval and test/bench scripts.
# Connection settings come from the usual PG* variables (default: the local
# cluster); each script works in its own database, created and dropped here.

PY=/usr/bin/python3                 # Debian python3 with numpy/scikit-learn
ADMIN_DB=${HP_ADMIN_DB:-postgres}   # where CREATE/DROP DATABASE is issued
EVAL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$EVAL_DIR/../.." && pwd)

# psql on the script's database: quiet, unaligned, stop on error.
q() { psql -X -q -v ON_ERROR_STOP=1 -At -d "$DB" "$@"; }

# db_create NAME: (re)create database NAME with the extension; sets DB and
# arranges for it to be dropped on exit unless KEEP_DB=1.
db_create() {
  DB=$1
  psql -X -q -v ON_ERROR_STOP=1 -d "$ADMIN_DB" -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" \
    -c "CREATE DATABASE $DB" >/dev/null
  psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c "CREATE EXTENSION hybridpref" >/dev/null
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/hp_${DB}.XXXXXX")
  trap db_cleanup EXIT
}

db_cleanup() {
  local rc=$?
  if [ "${KEEP_DB:-0}" != 1 ]; then
    psql -X -q -d "$ADMIN_DB" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
    rm -rf "$WORK"
  else
    echo "(kept database $DB and $WORK)"
  fi
  exit $rc
}

# build_gen: compiles gen_pairs.c into $WORK/gen_pairs; sets GEN.
build_gen() {
  GEN=$WORK/gen_pairs
  ${CC:-cc} -O2 -o "$GEN" "$EVAL_DIR/gen_pairs.c" -lm
}

# load_pairs TABLE GEN-ARGS...: creates TABLE(id, chosen, rejected, margin)
# and fills it from gen_pairs through binary COPY.
load_pairs() {
  local t=$1
  shift
  q -c "CREATE TABLE $t (id int, chosen real[] NOT NULL, rejected real[] NOT NULL, margin float8)"
  q -c "\\copy $t FROM PROGRAM '$GEN $*' WITH (FORMAT binary)"
}

now() { date +%s.%N; }

# pandalm_tables DATA: SQL that creates and loads the PandaLM tables raw
# (pairs.csv.gz) and emb (emb.csv.gz) from directory DATA.
pandalm_tables() {
  cat <<SQL
CREATE TABLE raw (id int PRIMARY KEY, app text, model_a text, model_b text, prompt text,
                  response_a text, response_b text, human1 int, human2 int, human3 int,
                  gpt35 int, pandalm7b int);
\\copy raw FROM PROGRAM 'gzip -dc $1/pairs.csv.gz' WITH (FORMAT csv, HEADER)
CREATE TABLE emb (id int PRIMARY KEY, prompt_emb real[], a_emb real[], b_emb real[]);
\\copy emb FROM PROGRAM 'gzip -dc $1/emb.csv.gz' WITH (FORMAT csv, HEADER)
SQL
}
