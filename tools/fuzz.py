"""Differential fuzzer CLI: random seeded calls over ember's public API.

    python tools/fuzz.py -n 5000 --seed 0 --torch /tmp/tv/bin/python   # compare with PyTorch
    python tools/fuzz.py -n 500 --device gpu                         # crashes/panics only
    python tools/fuzz.py --grad -n 3000 --seed 0 --torch /tmp/tv/bin/python   # gradients

--grad fuzzes gradients instead of forward values (tests/fuzz/gradgen.py, gradworker.py,
gradclassify.py): every input's .grad after backward of sum(out * w), and create_graph=True
second derivatives for elementwise, matmul, softmax and loss calls. Without --torch it
reports crashes, panics and non-finite gradients of smooth ops, and on cpu compares the
float64 calls' gradients and second derivatives with central differences.

Each call runs in a child process (a crash kills only the child); PyTorch runs in its own
child under its own interpreter, never in ember's. Prints the counts per category and, for
each finding, a reproducer line (T(shape, dtype) is a tensor of the seeded values, see
tests/fuzz/worker.py) — one per distinct (category, op) unless --all. Exit status 1 when a
crash or panic was found.
"""

import argparse
import collections
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from fuzz import classify, generator, gradclassify, gradgen, runner  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-n", type=int, default=1000, help="number of calls")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", help='ember device: "cpu" or "gpu"')
    ap.add_argument("--torch", metavar="PYTHON", help="a Python with PyTorch: compare with it")
    ap.add_argument("--batch", type=int, default=200, help="calls per child process")
    ap.add_argument("--family", action="append", help="only these families (repeatable)")
    ap.add_argument("--all", action="store_true", help="list every finding, not one per op")
    ap.add_argument("--json", metavar="FILE", help="write every call, result and category")
    ap.add_argument("--grad", action="store_true", help="fuzz gradients (see above)")
    ap.add_argument(
        "--isolate", action="store_true", help="bisect each crash to its minimal run of calls"
    )
    a = ap.parse_args(argv)

    if a.grad:
        specs = gradgen.generate(a.seed, a.n, a.device)
        if not a.torch and a.device == "cpu":  # no reference: check float64 ones numerically
            for s in specs:
                s["fd"] = s["fdtype"] == "float64"
        cls, repro, worker = gradclassify, gradclassify.reproducer, GRAD_WORKER
    else:
        specs = generator.generate(a.seed, a.n)
        cls, repro, worker = classify, generator.reproducer, runner.WORKER
    idx = [i for i, s in enumerate(specs) if not a.family or s["family"] in a.family]
    t0 = time.time()
    ours = runner.run_batch(
        specs, "ember", sys.executable, a.device, a.batch, indices=idx, worker=worker
    )
    t1 = time.time()
    print(
        f"ember ({a.device}): {len(idx)} calls in {t1 - t0:.1f}s: "
        + ", ".join(
            f"{k} {v}"
            for k, v in collections.Counter(r["status"] for r in ours.values()).most_common()
        )
    )
    if a.isolate:
        for i, r in ours.items():
            if r["status"] == "crashed":
                r["minimal"] = runner.isolate(
                    specs, i, r["before"], "ember", sys.executable, a.device
                )
    rows = []
    if a.torch:
        theirs = runner.run_batch(
            specs, "torch", a.torch, "cpu", a.batch, indices=idx, worker=worker
        )
        print(f"torch (cpu): {time.time() - t1:.1f}s")
        for i in idx:
            if a.grad:
                cat, detail = gradclassify.classify(specs[i], ours[i], theirs[i], a.device)
            else:
                cat, detail = classify.classify(specs[i], ours[i], theirs[i])
            if ours[i].get("minimal"):
                detail += f" (minimal run: calls {ours[i]['minimal']})"
            rows.append((i, cat, detail))
    elif a.grad:
        for i in idx:
            found = gradclassify.ci_findings(specs[i], ours[i])
            rows.append((i, found[0][0], found[0][1]) if found else (i, "ok", ""))
    else:
        for i in idx:
            r = ours[i]
            cat = {"crashed": "crash", "hang": "crash", "panic": "panic"}.get(r["status"], "ok")
            detail = r.get("msg") or r.get("stderr", "")
            if r.get("minimal"):
                detail += f" (minimal run: calls {r['minimal']})"
            rows.append((i, cat, detail))

    counts = collections.Counter(cat for _, cat, _ in rows)
    order = cls.ORDER + ["ok", "nonfinite", "fd", "fd2"]
    print("counts: " + ", ".join(f"{c} {counts[c]}" for c in order if counts[c]))
    seen = set()
    for c in order:
        if c in ("match", "ok", "unsupported", "torch_crash"):
            continue
        for i, cat, detail in rows:
            if cat != c:
                continue
            key = (cat, specs[i]["op"])
            if key in seen and not a.all:
                continue
            seen.add(key)
            print(f"[{cat}] #{i} {repro(specs[i])}\n    {detail}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(
                [
                    {"i": i, "spec": specs[i], "category": cat, "detail": detail}
                    for i, cat, detail in rows
                ],
                f,
            )
    return 1 if counts["crash"] or counts["panic"] else 0


GRAD_WORKER = os.path.join(os.path.dirname(runner.WORKER), "gradworker.py")


if __name__ == "__main__":
    sys.exit(main())
