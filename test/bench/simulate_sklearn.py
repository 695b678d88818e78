"""simulate_sklearn.py: scikit-learn side of test/bench/bench_simulate.sh.

/usr/bin/python3 simulate_sklearn.py WORK LAMBDA
  WORK/pool.txt     i, vector (space-separated) of the embedding pool
  WORK/train.txt    id, pool index of a, of b, human label, LLM label (id order)
  WORK/heldout.txt  pool index of a, of b, trusted label
  WORK/cands.txt    candidate, budget, sampler, hp's score, human-routed ids
For each candidate: labels = human where routed, LLM elsewhere; fit
LogisticRegression(fit_intercept=False, C=1/(lambda N), solver lbfgs,
max_iter=1000) on the float32 difference vectors a - b (converted to float64
once, outside the timing, since lbfgs works in float64); score the held-out
pairwise accuracy.  Timed: the fits and the scoring, nothing else.  Also one
pass with warm_start=True inside each (budget, sampler) group, for
reference.  Output lines "key=value"; sk_total_s is the cold loop.
"""
import os
import sys
import time
import warnings

import numpy as np

work, lam = sys.argv[1], float(sys.argv[2])
from sklearn import __version__ as skv  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402


def read_rows(name):
    with open(f"{work}/{name}") as f:
        return [line.rstrip("\n").split("\t") for line in f]


pool_rows = read_rows("pool.txt")
pool = np.zeros((len(pool_rows), len(pool_rows[0][1].split())), dtype=np.float32)
for i, vec in pool_rows:
    pool[int(i)] = np.array(vec.split(), dtype=np.float64).astype(np.float32)

train = read_rows("train.txt")
ids = [r[0] for r in train]
row_of = {v: k for k, v in enumerate(ids)}
ia = np.array([int(r[1]) for r in train])
ib = np.array([int(r[2]) for r in train])
human = np.array([float(r[3]) for r in train])
llm = np.array([float(r[4]) for r in train])
X = (pool[ia] - pool[ib]).astype(np.float64)   # a - b in float32, as hp does

held = read_rows("heldout.txt")
Xh = (pool[np.array([int(r[0]) for r in held])] - pool[np.array([int(r[1]) for r in held])]).astype(np.float64)
trusted = np.array([float(r[2]) for r in held])
decided = trusted != 0.5

cands = read_rows("cands.txt")
n = X.shape[0]
C = 1.0 / (lam * n)
print(f"sk_version={skv}")
print(f"sk_threads=OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
masks = []
for c in cands:
    m = np.zeros(n, dtype=bool)
    if c[4]:
        m[[row_of[i] for i in c[4].split()]] = True
    masks.append(m)


def accuracy(w):
    z = Xh[decided] @ w
    t = trusted[decided]
    return float(np.mean(np.where(z == 0, 0.5, (z > 0) == (t > 0.5))))


def run(warm):
    scores, iters, nwarn = [], [], 0
    clf, group = None, None
    t0 = time.perf_counter()
    for c, m in zip(cands, masks):
        y = np.where(m, human, llm)
        if not warm or (c[1], c[2]) != group:
            clf = LogisticRegression(fit_intercept=False, C=C, solver="lbfgs", max_iter=1000,
                                     warm_start=warm)
            group = (c[1], c[2])
        with warnings.catch_warnings(record=True) as wl:
            warnings.simplefilter("always", ConvergenceWarning)
            clf.fit(X, y)
        nwarn += sum(issubclass(w.category, ConvergenceWarning) for w in wl)
        scores.append(accuracy(clf.coef_[0]))
        iters.append(int(clf.n_iter_[0]))
    return time.perf_counter() - t0, np.array(scores), iters, nwarn


hp_scores = np.array([float(c[3]) for c in cands])
secs, sk, iters, nwarn = run(False)
diff = np.abs(sk - hp_scores)
print(f"sk_total_s={secs:.3f}")
print(f"sk_per_candidate_ms={1000 * secs / len(cands):.1f}")
print(f"sk_lbfgs_iterations_mean={np.mean(iters):.0f}")
print(f"sk_convergence_warnings={nwarn}")
print(f"sk_mean_accuracy={sk.mean():.4f} hp_mean_accuracy={hp_scores.mean():.4f}")
print(f"accuracy_abs_diff_max={diff.max():.4f} accuracy_abs_diff_mean={diff.mean():.5f} "
      f"(one held-out pair = {1 / decided.sum():.4f})")
print(f"accuracy_corr={np.corrcoef(sk, hp_scores)[0, 1]:.4f}")
wsecs, wsk, witers, _ = run(True)
print(f"sk_warm_start_total_s={wsecs:.3f} (lbfgs iterations mean {np.mean(witers):.0f})")
