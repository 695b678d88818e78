#!/usr/bin/env bash
# test/bench/bench_train.sh: training and scoring speed of hybridpref, side by
# side with scikit-learn and liblinear on the same data.  See README.md.
#
# Environment: PG* connection variables (database hp_bench is created and
# dropped; KEEP_DB=1 keeps it), N (pairs, 50000), DIM (512), LAMBDA (1e-3),
# DIST (hh: unit-norm embedding-like vectors; gauss: N(0, I)),
# REPEATS (3), SCORE_ROWS (1000000, a multiple of 2*N; 0 skips scoring).
set -euo pipefail
source "$(dirname "$0")/../eval/lib.bash"
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
T0=$SECONDS
N=${N:-50000}
DIM=${DIM:-512}
LAMBDA=${LAMBDA:-1e-3}
DIST=${DIST:-hh}
REPEATS=${REPEATS:-3}
SCORE_ROWS=${SCORE_ROWS:-1000000}
C=$(awk -v l="$LAMBDA" -v n="$N" 'BEGIN{printf "%.17g", 1 / (l * n)}')
LIBLINEAR=$(command -v liblinear-train || command -v train || true)
[ -n "$LIBLINEAR" ] || { echo "liblinear-train not found (apt-get install liblinear-tools)"; exit 1; }

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a / b}'; }

echo "== bench_train: $N pairs x $DIM-d ($DIST), lambda $LAMBDA (C = 1/(lambda N) = $C), $REPEATS runs each (median)"
echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "server: $(psql -X -At -d "$ADMIN_DB" -c 'SELECT version()' | cut -d, -f1)"
db_create hp_bench
build_gen

# ---- data: hh-rlhf-like unit-norm embeddings, known linear BT reward --------
TG=$(now)
load_pairs t --n "$N" --dim "$DIM" --seed 11 --dist "$DIST" --margin-sd 1.5 \
  --npy-x "$WORK/x.npy" --npy-y "$WORK/y.npy" --libsvm "$WORK/train.libsvm"
q -c "ANALYZE t"
echo "data generated and loaded in $(awk -v a="$TG" -v b="$(now)" 'BEGIN{printf "%.1f", b - a}') s:" \
  "table t $(q -c "SELECT pg_size_pretty(pg_total_relation_size('t'))")," \
  "x.npy $(du -h "$WORK/x.npy" | cut -f1), train.libsvm $(du -h "$WORK/train.libsvm" | cut -f1)"

# The same rows with the arrays stored inline (STORAGE PLAIN, as pgvector
# advises for embedding columns): no TOAST fetch per array.
q -c "CREATE TABLE tp (LIKE t)" -c "ALTER TABLE tp ALTER COLUMN chosen SET STORAGE PLAIN, ALTER COLUMN rejected SET STORAGE PLAIN" \
  -c "INSERT INTO tp SELECT * FROM t" -c "VACUUM ANALYZE tp"

# ---- in-database training ---------------------------------------------------
BLAS_THREADS=$(q -c "LOAD 'hybridpref'" -c "SHOW hybridpref.blas_threads")
{
  cat <<SQL
CREATE TABLE timings (what text, run int, secs float8);
SET max_parallel_workers_per_gather = 0;
-- warm-up: loads OpenBLAS in this backend
SELECT pg_column_size(hp.train_reward_model(chosen, rejected, '{"heads":1}')) FROM (SELECT * FROM t LIMIT 1000) s \\g /dev/null
SQL
  for ((r = 1; r <= REPEATS; r++)); do
    cat <<SQL
SELECT clock_timestamp() AS t0 \\gset
SELECT sum(array_length(chosen, 1) + array_length(rejected, 1)) FROM t \\g /dev/null
INSERT INTO timings VALUES ('scan', $r, extract(epoch FROM clock_timestamp() - :'t0'::timestamptz));
SQL
    cat <<SQL
SELECT clock_timestamp() AS t0 \\gset
SELECT sum(array_length(chosen, 1) + array_length(rejected, 1)) FROM tp \\g /dev/null
INSERT INTO timings VALUES ('scan_plain', $r, extract(epoch FROM clock_timestamp() - :'t0'::timestamptz));
SELECT clock_timestamp() AS t0 \\gset
SELECT pg_column_size(hp.train_reward_model(chosen, rejected, '{"heads":1,"lambda":$LAMBDA,"seed":1}')) FROM tp \\g /dev/null
INSERT INTO timings VALUES ('hp1_plain', $r, extract(epoch FROM clock_timestamp() - :'t0'::timestamptz));
SQL
    for H in 1 8; do
      cat <<SQL
SELECT clock_timestamp() AS t0 \\gset
SELECT pg_column_size(hp.train_reward_model(chosen, rejected, '{"heads":$H,"lambda":$LAMBDA,"seed":1}')) FROM t \\g /dev/null
INSERT INTO timings VALUES ('hp$H', $r, extract(epoch FROM clock_timestamp() - :'t0'::timestamptz));
SQL
    done
  done
  cat <<SQL
-- extra figures (one run each): BLAS with 2 threads, and a parallel plan with 2 workers
SET hybridpref.blas_threads = 2;
SELECT clock_timestamp() AS t0 \\gset
SELECT pg_column_size(hp.train_reward_model(chosen, rejected, '{"heads":1,"lambda":$LAMBDA,"seed":1}')) FROM t \\g /dev/null
INSERT INTO timings VALUES ('hp1_blas2', 1, extract(epoch FROM clock_timestamp() - :'t0'::timestamptz));
RESET hybridpref.blas_threads;
SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SELECT clock_timestamp() AS t0 \\gset
SELECT pg_column_size(hp.train_reward_model(chosen, rejected, '{"heads":1,"lambda":$LAMBDA,"seed":1}')) FROM t \\g /dev/null
INSERT INTO timings VALUES ('hp1_par2', 1, extract(epoch FROM clock_timestamp() - :'t0'::timestamptz));
SQL
} | q
hp_times() { q -c "SELECT string_agg(round(secs::numeric, 4)::text, ' ' ORDER BY run) FROM timings WHERE what = '$1'"; }
HP1_ALL=$(hp_times hp1); HP8_ALL=$(hp_times hp8)
HP1=$(echo "$HP1_ALL" | median); HP8=$(echo "$HP8_ALL" | median)
HP1_B2=$(hp_times hp1_blas2); HP1_P2=$(hp_times hp1_par2)
SCAN_ALL=$(hp_times scan); SCAN=$(echo "$SCAN_ALL" | median)
HP1P_ALL=$(hp_times hp1_plain); HP1P=$(echo "$HP1P_ALL" | median)
SCANP_ALL=$(hp_times scan_plain); SCANP=$(echo "$SCANP_ALL" | median)
echo "hp.train_reward_model, serial scan, hybridpref.blas_threads = $BLAS_THREADS:"
echo "  1 head:  $HP1_ALL s  (median $HP1)"
echo "  8 heads: $HP8_ALL s  (median $HP8)"
echo "  (bare scan of the same rows, SELECT sum(array_length(chosen,1) + array_length(rejected,1)) FROM t: $SCAN_ALL s, median $SCAN)"
echo "  1 head, hybridpref.blas_threads = 2: $HP1_B2 s; 1 head, parallel plan (2 workers, blas_threads $BLAS_THREADS): $HP1_P2 s"

# models for scoring and for the solution check (serial CREATE TABLE AS)
q <<SQL
SET max_parallel_workers_per_gather = 0;
CREATE TABLE m1 AS SELECT hp.train_reward_model(chosen, rejected, '{"heads":1,"lambda":$LAMBDA,"seed":1}') AS m FROM t;
CREATE TABLE m8 AS SELECT hp.train_reward_model(chosen, rejected, '{"heads":8,"lambda":$LAMBDA,"seed":1}') AS m FROM t;
\\copy (SELECT i, hp.reward(m, ARRAY(SELECT (j = i)::int::real FROM generate_series(1, $DIM) j ORDER BY j)) FROM m1, generate_series(1, $DIM) i) TO '$WORK/hp_w.csv' WITH (FORMAT csv)
SQL
echo "  model_info(1 head): $(q -c "SELECT hp.model_info(m) - 'options' FROM m1" | cut -c1-300)"

# ---- liblinear ----------------------------------------------------------------
LL_ALL=""
for ((r = 1; r <= REPEATS; r++)); do
  a=$(now)
  "$LIBLINEAR" -s 0 -c "$C" -B -1 -q "$WORK/train.libsvm" "$WORK/liblinear.model"
  LL_ALL="$LL_ALL $(awk -v a="$a" -v b="$(now)" 'BEGIN{printf "%.4f", b - a}')"
done
LL=$(echo "$LL_ALL" | median)
a=$(now)
"$LIBLINEAR" -s 0 -c "$C" -B -1 -e 1e30 -q "$WORK/train.libsvm" "$WORK/ll_read.model"
LL_READ=$(awk -v a="$a" -v b="$(now)" 'BEGIN{printf "%.4f", b - a}')
echo "liblinear ($LIBLINEAR -s 0 -c $C -B -1, default -e 0.01, single-threaded; times include parsing the $(du -h "$WORK/train.libsvm" | cut -f1) text file):"
echo "  $LL_ALL s  (median $LL); reading + one gradient only (-e 1e30): $LL_READ s"

# ---- the core on arrays already in memory (like scikit-learn's .fit) ----------
CORE_BIN=$WORK/bench_core_train
cc -std=gnu11 -O2 -I"$REPO_ROOT/src/core" -o "$CORE_BIN" "$BENCH_DIR/bench_core_train.c" \
  $(ls "$REPO_ROOT"/src/core/*.c) -lopenblas -llapacke -lm
CORE_OUT=$("$CORE_BIN" "$WORK/x.npy" "$WORK/y.npy" "$LAMBDA" 1 "$REPEATS")
CORE=$(echo "$CORE_OUT" | sed -n 's/^core_fit_median_s=//p')
CORE8=$("$CORE_BIN" "$WORK/x.npy" "$WORK/y.npy" "$LAMBDA" 8 "$REPEATS" | sed -n 's/^core_fit_median_s=//p')
echo "numerical core (src/core, hp_bt_train) on the same arrays in memory, 1 thread:"
echo "  1 head: $(echo "$CORE_OUT" | sed -n 's/^core_fit_s=//p' | tr ',' ' ') s (median $CORE); 8 heads: median $CORE8 s"

# ---- scikit-learn -------------------------------------------------------------
SK_OUT=$(OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 "$PY" "$BENCH_DIR/bench_sklearn.py" "$WORK" "$LAMBDA" "$REPEATS")
SK=$(echo "$SK_OUT" | sed -n 's/^sk_fit_median_s=//p')
echo "scikit-learn $(echo "$SK_OUT" | sed -n 's/^sk_version=//p') LogisticRegression(fit_intercept=False, C=$C, solver='lbfgs', max_iter=1000), .fit only, arrays in memory:"
echo "  $(echo "$SK_OUT" | sed -n 's/^sk_fit_s=//p' | tr ',' ' ') s  (median $SK), $(echo "$SK_OUT" | sed -n 's/^sk_n_iter=//p') lbfgs iterations"
echo "$SK_OUT" | sed -n 's/^sk_warning=/  warning: /p'
echo "  (np.load of x.npy and y.npy, not included: $(echo "$SK_OUT" | sed -n 's/^sk_load_s=//p') s)"
echo "  threads: $(echo "$SK_OUT" | sed -n 's/^sk_threads=//p')"
SK2_OUT=$(OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 "$PY" "$BENCH_DIR/bench_sklearn.py" "$WORK" "$LAMBDA" 1)
SK2=$(echo "$SK2_OUT" | sed -n 's/^sk_fit_median_s=//p')
echo "  with OPENBLAS_NUM_THREADS=2 (one run): $SK2 s"
echo "same optimum? (objective = mean logistic loss + lambda/2 |w|^2 on the training data)"
echo "$SK_OUT" | sed -n 's/^solution_\([a-z]*\)=/  \1: /p'

# ---- hybridpref and scikit-learn by turns ---------------------------------------
# The machine's speed drifts over seconds; the sections above run minutes
# apart.  Here one training of each runs per round, in alternating order,
# and the per-round ratios decide the training target.
IL_PAIRS=${IL_PAIRS:-$((2 * REPEATS))}
il() { OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 "$PY" "$BENCH_DIR/bench_interleaved.py" "$WORK" "$DB" "$1" "$LAMBDA" "$IL_PAIRS"; }
il_get() { echo "$1" | sed -n "s/^$2=//p"; }
IL_T=$(il t); IL_TP=$(il tp)
echo "by turns, $IL_PAIRS rounds (one hp.train_reward_model 1 head in one session, one scikit-learn .fit, order alternating):"
for v in T TP; do
  out=IL_$v; out=${!out}
  echo "  table $( [ $v = T ] && echo "t (TOASTed, default storage)" || echo "tp (STORAGE PLAIN)"):"
  echo "    hp      $(il_get "$out" il_hp_s) s (median $(il_get "$out" il_hp_median_s); the session's first training, which maps its memory: $(il_get "$out" il_first_s) s)"
  echo "    sklearn $(il_get "$out" il_sk_s) s (median $(il_get "$out" il_sk_median_s))"
  echo "    hp / sklearn per round: $(il_get "$out" il_ratio) (median $(il_get "$out" il_ratio_median); hp faster in $(il_get "$out" il_hp_faster) of $IL_PAIRS)"
done
IL_R=$(il_get "$IL_T" il_ratio_median); IL_RP=$(il_get "$IL_TP" il_ratio_median)

# ---- scoring --------------------------------------------------------------------
if [ "$SCORE_ROWS" -gt 0 ]; then
  REP=$(( (SCORE_ROWS + 2 * N - 1) / (2 * N) ))
  TG=$(now)
  q -c "CREATE UNLOGGED TABLE t1m AS SELECT x FROM (SELECT chosen AS x FROM t UNION ALL SELECT rejected FROM t) s, generate_series(1, $REP) g" \
    -c "VACUUM ANALYZE t1m"
  echo "scoring table t1m: $(q -c 'SELECT count(*) FROM t1m') rows x $DIM-d real[] (chosen and rejected of t, repeated $REP times; unlogged, default storage)," \
    "$(q -c "SELECT pg_size_pretty(pg_total_relation_size('t1m'))"), built in $(awk -v a="$TG" -v b="$(now)" 'BEGIN{printf "%.0f", b - a}') s"
  {
    cat <<SQL
CREATE TABLE stimings (what text, run int, secs float8);
SET max_parallel_workers_per_gather = 0;
SELECT sum(array_length(x, 1)) FROM t1m \\g /dev/null
SQL
    for ((r = 1; r <= REPEATS; r++)); do
      for W in bare hp1 hp8; do
        case $W in
          bare) Q="SELECT sum(array_length(x, 1)) FROM t1m" ;;
          hp1) Q="SELECT sum(hp.reward((SELECT m FROM m1), x)) FROM t1m" ;;
          hp8) Q="SELECT sum(hp.reward((SELECT m FROM m8), x)) FROM t1m" ;;
        esac
        cat <<SQL
SELECT clock_timestamp() AS t0 \\gset
$Q \\g /dev/null
INSERT INTO stimings VALUES ('$W', $r, extract(epoch FROM clock_timestamp() - :'t0'::timestamptz));
SQL
      done
    done
  } | q
  s_times() { q -c "SELECT string_agg(round(secs::numeric, 3)::text, ' ' ORDER BY run) FROM stimings WHERE what = '$1'"; }
  S_BARE_ALL=$(s_times bare); S_HP1_ALL=$(s_times hp1); S_HP8_ALL=$(s_times hp8)
  S_BARE=$(echo "$S_BARE_ALL" | median); S_HP1=$(echo "$S_HP1_ALL" | median); S_HP8=$(echo "$S_HP8_ALL" | median)
  R1_RUNS=$(q -c "SELECT string_agg(round((h.secs / b.secs)::numeric, 3)::text, ' ' ORDER BY b.run) FROM stimings b JOIN stimings h USING (run) WHERE b.what = 'bare' AND h.what = 'hp1'")
  R8_RUNS=$(q -c "SELECT string_agg(round((h.secs / b.secs)::numeric, 3)::text, ' ' ORDER BY b.run) FROM stimings b JOIN stimings h USING (run) WHERE b.what = 'bare' AND h.what = 'hp8'")
  echo "scoring (serial, max_parallel_workers_per_gather = 0; runs alternate bare/hp1/hp8):"
  echo "  bare scan   SELECT sum(array_length(x,1)) FROM t1m:           $S_BARE_ALL s (median $S_BARE)"
  echo "  1-head      SELECT sum(hp.reward((SELECT m FROM m1), x)) ...: $S_HP1_ALL s (median $S_HP1), per-run ratio $R1_RUNS"
  echo "  8-head      SELECT sum(hp.reward((SELECT m FROM m8), x)) ...: $S_HP8_ALL s (median $S_HP8), per-run ratio $R8_RUNS"
  R1_MED=$(echo "$R1_RUNS" | median); R8_MED=$(echo "$R8_RUNS" | median)
fi

# ---- summary ------------------------------------------------------------------------
echo
echo "Summary ($N pairs x $DIM-d, lambda $LAMBDA, 1 thread each: hybridpref.blas_threads = $BLAS_THREADS, OPENBLAS_NUM_THREADS=1 for numpy; medians of $REPEATS runs):"
echo
echo "| measurement | time (s) | ratio |"
echo "|---|---:|---:|"
echo "| hp.train_reward_model, 1 head, in-database (serial scan of the table included) | $HP1 | 1.00 |"
echo "| (bare serial scan of the training table, detoasting both arrays) | $SCAN | scan / hp = $(ratio "$SCAN" "$HP1") |"
echo "| hp.train_reward_model, 1 head, arrays stored inline (STORAGE PLAIN) | $HP1P | vs sklearn = $(ratio "$HP1P" "$SK") |"
echo "| (bare serial scan of the inline table) | $SCANP | |"
echo "| scikit-learn LogisticRegression lbfgs, .fit on in-memory arrays | $SK | hp / sklearn = $(ratio "$HP1" "$SK") |"
echo "| hp / sklearn by turns, median of $IL_PAIRS per-round ratios (table t / table tp) | | $IL_R / $IL_RP |"
echo "| liblinear train -s 0 (includes parsing its text file, ~$LL_READ s) | $LL | hp / liblinear = $(ratio "$HP1" "$LL") |"
echo "| hp core fit on arrays in memory, 1 head (like-for-like with sklearn .fit) | $CORE | core / sklearn = $(ratio "$CORE" "$SK") |"
echo "| hp core fit on arrays in memory, 8 heads | $CORE8 | 8 / 1 = $(ratio "$CORE8" "$CORE") |"
echo "| hp.train_reward_model, 8 heads | $HP8 | 8 heads / 1 head = $(ratio "$HP8" "$HP1") |"
if [ "$SCORE_ROWS" -gt 0 ]; then
  echo "| bare scan, sum(array_length(x,1)) over $SCORE_ROWS rows | $S_BARE | 1.00 |"
  echo "| sum(hp.reward(m, x)), 1-head model, $SCORE_ROWS rows | $S_HP1 | vs bare scan = $(ratio "$S_HP1" "$S_BARE") (median per-run $R1_MED) |"
  echo "| sum(hp.reward(m, x)), 8-head model, $SCORE_ROWS rows | $S_HP8 | vs bare scan = $(ratio "$S_HP8" "$S_BARE") (median per-run $R8_MED) |"
fi
echo
verdict() { awk -v v="$1" -v t="$2" 'BEGIN{print (v < t) ? "MET" : "NOT MET"}'; }
echo "target training faster than scikit-learn (hp/sklearn < 1, by turns): in-database $(verdict "$IL_R" 1) ($IL_R; inline storage $IL_RP; medians run minutes apart $(ratio "$HP1" "$SK")); core on in-memory arrays $(verdict "$(ratio "$CORE" "$SK")" 1) ($(ratio "$CORE" "$SK"))"
[ "$SCORE_ROWS" -gt 0 ] && echo "target scoring within 1.3x the bare scan: $(verdict "$(ratio "$S_HP8" "$S_BARE")" 1.3) (8 heads $(ratio "$S_HP8" "$S_BARE"), 1 head $(ratio "$S_HP1" "$S_BARE"))"
echo "elapsed $((SECONDS - T0)) s"
