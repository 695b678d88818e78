"""bench_sklearn.py: scikit-learn side of test/bench/bench_train.sh.

/usr/bin/python3 bench_sklearn.py WORK LAMBDA REPEATS
  WORK/x.npy, WORK/y.npy: sign-flipped difference vectors and labels (gen_pairs)
  WORK/hp_w.csv:          weights of the hp 1-head model (j, w_j), optional
  WORK/liblinear.model:   liblinear model file, optional
Times LogisticRegression(fit_intercept=False, C=1/(lambda*N), solver lbfgs,
max_iter=1000).fit on arrays already in memory (median of REPEATS), then
prints the objective (mean logistic loss + lambda/2 |w|^2) at each solver's
solution.  Output lines "key=value" are parsed by the shell script.
"""
import os
import sys
import time
import warnings

import numpy as np

work, lam, repeats = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
from sklearn import __version__ as skv  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

try:
    from threadpoolctl import threadpool_info
    pools = "; ".join(f"{p['internal_api']} {p.get('version', '')} num_threads={p['num_threads']}"
                      for p in threadpool_info())
except Exception as e:  # pragma: no cover
    pools = f"unknown ({e})"

t0 = time.perf_counter()
X = np.load(f"{work}/x.npy")
y = np.load(f"{work}/y.npy")
print(f"sk_load_s={time.perf_counter() - t0:.4f}")
n, dim = X.shape
C = 1.0 / (lam * n)
print(f"sk_version={skv}")
print(f"sk_threads=OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
      f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; threadpoolctl: {pools}")
times = []
for r in range(repeats):
    clf = LogisticRegression(fit_intercept=False, C=C, max_iter=1000)
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as wl:
        warnings.simplefilter("always")
        clf.fit(X, y)
    times.append(time.perf_counter() - t0)
print("sk_fit_s=" + ",".join(f"{t:.4f}" for t in times))
print(f"sk_fit_median_s={np.median(times):.4f}")
print(f"sk_n_iter={int(clf.n_iter_[0])}")
if wl:
    print(f"sk_warning={str(wl[-1].message).splitlines()[0]}")

ysign = 2.0 * y - 1.0


def objective(w):
    return float(np.mean(np.logaddexp(0.0, -ysign * (X @ w))) + 0.5 * lam * (w @ w))


def accuracy(w):
    return float(np.mean(ysign * (X @ w) > 0))


sols = {"sklearn": clf.coef_[0]}
if os.path.exists(f"{work}/hp_w.csv"):
    W = np.loadtxt(f"{work}/hp_w.csv", delimiter=",", ndmin=2)
    w = np.zeros(dim)
    w[W[:, 0].astype(int) - 1] = W[:, 1]
    sols["hp"] = w
if os.path.exists(f"{work}/liblinear.model"):
    with open(f"{work}/liblinear.model") as f:
        lines = f.read().split("\n")
    labels = next(l for l in lines if l.startswith("label")).split()[1:]
    k = lines.index("w")
    w = np.array([float(v) for v in lines[k + 1:k + 1 + dim]])
    sols["liblinear"] = w if labels[0] in ("1", "+1") else -w
ref = sols["sklearn"]
for name, w in sols.items():
    print(f"solution_{name}=objective {objective(w):.12f}, train accuracy {100*accuracy(w):.3f}%, "
          f"|w| {np.linalg.norm(w):.6f}, |w - w_sklearn|/|w_sklearn| {np.linalg.norm(w-ref)/np.linalg.norm(ref):.2e}")
