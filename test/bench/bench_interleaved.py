"""bench_interleaved.py: hybridpref and scikit-learn training, run by turns.

/usr/bin/python3 bench_interleaved.py WORK DB TABLE LAMBDA PAIRS
  WORK/x.npy, WORK/y.npy: the difference vectors and labels of TABLE (gen_pairs)
  DB, TABLE: database (PG* variables connect) and its training table
Runs PAIRS rounds; each times one hp.train_reward_model (1 head, in one psql
session, timed by the server's clock around the query) and one scikit-learn
LogisticRegression.fit on arrays already in memory, in alternating order
(hp first in odd rounds, scikit-learn first in even ones).  The machine's
speed drifts over seconds; a ratio taken within one round compares the two
under the same conditions, so the median of the per-round ratios is the
figure to read.  Output lines "key=value" are parsed by bench_train.sh.
"""
import subprocess
import sys
import time
import warnings

import numpy as np

work, db, table, lam, pairs = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
from sklearn.linear_model import LogisticRegression  # noqa: E402

X = np.load(f"{work}/x.npy")
y = np.load(f"{work}/y.npy")
C = 1.0 / (lam * X.shape[0])

psql = subprocess.Popen(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", db],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
query = (f"SELECT pg_column_size(hp.train_reward_model(chosen, rejected, "
         f"'{{\"heads\":1,\"lambda\":{lam},\"seed\":1}}')) FROM {table}")


def hp_run():
    """One training in the same backend; seconds by the server's clock."""
    psql.stdin.write("SELECT clock_timestamp() AS t0 \\gset\n"
                     f"{query} \\g /dev/null\n"
                     "SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz);\n")
    line = psql.stdout.readline()
    if not line:
        sys.exit("psql ended early")
    return float(line)


def sk_run():
    clf = LogisticRegression(fit_intercept=False, C=C, max_iter=1000)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    return time.perf_counter() - t0


psql.stdin.write("SET max_parallel_workers_per_gather = 0;\n")
first = hp_run()          # the backend's first training also maps its memory
sk_run()                  # warm-up
hp, sk = [], []
for r in range(pairs):
    if r % 2 == 0:
        hp.append(hp_run())
        sk.append(sk_run())
    else:
        sk.append(sk_run())
        hp.append(hp_run())
psql.stdin.close()
psql.wait()
ratios = [a / b for a, b in zip(hp, sk)]
print(f"il_first_s={first:.4f}")
print("il_hp_s=" + " ".join(f"{t:.4f}" for t in hp))
print("il_sk_s=" + " ".join(f"{t:.4f}" for t in sk))
print("il_ratio=" + " ".join(f"{r:.2f}" for r in ratios))
print(f"il_hp_median_s={np.median(hp):.4f}")
print(f"il_sk_median_s={np.median(sk):.4f}")
print(f"il_ratio_median={np.median(ratios):.2f}")
print(f"il_hp_faster={sum(r < 1 for r in ratios)}")
