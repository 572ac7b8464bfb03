"""Runs third-party PyTorch programs unchanged on ember and prints a markdown table.

    python tools/run_programs.py CHECKOUTS_DIR [--only NAME ...] [--torch PYTHON | --compare PYTHON]
                                 [--timeout S] [--log DIR] [--pythonpath DIR]

CHECKOUTS_DIR holds checkouts named examples (pytorch/examples), makemore, micrograd, minGPT and
pytorch-image-models (timm). Each program runs in a subprocess through `python -m ember.run`
(when ember has it) or else through this file's `--exec` mode, which maps every `torch` import to
ember the same way. With `--torch PYTHON` the same commands run under that interpreter with real
PyTorch instead; with `--compare PYTHON` each program runs on both and one table shows the two
losses and step times side by side.

Small sizes and few steps come from the programs' own command-line options. Where a program
downloads a dataset, the stand-in comes from tools/program_stubs (a generated MNIST behind a
minimal torchvision) or is written into the program's data folder before the run (text corpora,
names list). Model and training code are never changed.

Columns: ran unchanged (exit status 0), the first error (the exception line of the traceback),
the final loss (the last loss the program printed), and time per step: the median of the step
times the program prints itself (makemore, minGPT, word_language_model, the timm driver), else
(marked *) the wall time of the whole run, start-up and evaluation included, divided by the
number of optimisation steps the options ask for.
"""

import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
STUBS = os.path.join(HERE, "program_stubs")


# --------------------------------------------------------------------------- torch -> ember
def _install_torch_mapping():
    """Makes `import torch[.x]` give `ember[.x]`; an absent submodule is a clear ImportError."""
    import importlib
    import importlib.abc
    import importlib.util

    class _TorchToEmber(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, fullname, path=None, target=None):
            if fullname == "torch" or fullname.startswith("torch."):
                return importlib.util.spec_from_loader(fullname, self)
            return None

        def create_module(self, spec):
            target = "ember" + spec.name[len("torch") :]
            try:
                return importlib.import_module(target)
            except ImportError as e:
                if e.name not in (target, None) and not target.startswith(e.name or "\0"):
                    raise
                raise ImportError(
                    f"ember has no module {target!r} (the program imports {spec.name!r})",
                    name=spec.name,
                ) from None

        def exec_module(self, module):
            pass

    sys.meta_path.insert(0, _TorchToEmber())


def _exec(argv):
    """`--exec script args...` or `--exec -m module args...`: run with torch mapped to ember."""
    import runpy

    _install_torch_mapping()
    if argv[0] == "-m":
        sys.argv = [argv[1], *argv[2:]]
        sys.path.insert(0, os.getcwd())
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = list(argv)
        sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))
        runpy.run_path(argv[0], run_name="__main__")


# --------------------------------------------------------------------------- stand-in data
_WORDS = (
    "the of and to in a is that for it as was with be by on not he i this are or his from at "
    "which but have an they you were her she there one all we their been has would when who "
    "will more no if out so said what up its about into than them can only other new some "
    "could time these two may then do first any my now such like our over man me even most"
).split()


def _text(n_words, seed, line_words=12):
    import numpy as np

    rng = np.random.RandomState(seed)
    # A Zipf-like draw so a language model has something to learn.
    p = 1.0 / np.arange(1, len(_WORDS) + 1)
    words = rng.choice(len(_WORDS), size=n_words, p=p / p.sum())
    lines = [
        " ".join(_WORDS[w] for w in words[i : i + line_words])
        for i in range(0, n_words, line_words)
    ]
    return "\n".join(lines) + "\n"


def _wikitext_standin(cwd):
    d = os.path.join(cwd, "data", "wikitext-2")
    os.makedirs(d, exist_ok=True)
    for name, n, seed in (("train", 12000, 0), ("valid", 2000, 1), ("test", 2000, 2)):
        path = os.path.join(d, f"{name}.txt")
        if not os.path.exists(path):
            with open(path, "w") as f:
                f.write(_text(n, seed))


def _chargpt_standin(cwd):
    path = os.path.join(cwd, "input.txt")
    if not os.path.exists(path):
        with open(path, "w") as f:
            # chargpt samples from the prompt "O God, O God!", so its characters must occur.
            f.write("O God, O God!\n" + _text(6000, 3))


# --------------------------------------------------------------------------- the programs
# name, checkout, working dir (in the checkout), command (script + args), steps, loss regex,
# extra env, a setup command (run the same way, before), a data stand-in function, extra paths,
# and a regex for the per-step time in ms the program prints itself (when it does).
def _p(
    name, repo, cwd, cmd, steps, loss, env=None, setup=None, data=None, paths=(), tstep=None,
    stop_after=None,
):  # fmt: skip
    return dict(
        tstep=tstep,
        stop_after=stop_after,
        name=name,
        repo=repo,
        cwd=cwd,
        cmd=cmd,
        steps=steps,
        loss=loss,
        env=env or {},
        setup=setup,
        data=data,
        paths=paths,
    )


_MNIST_ENV = {"EMBER_STANDIN_TRAIN": "640", "EMBER_STANDIN_TEST": "256"}
_TRAIN_LOSS = r"Loss: ([-\d.e+]+)"

PROGRAMS = [
    _p("examples/mnist", "examples", "mnist",
       ["main.py", "--epochs", "1", "--no-accel", "--log-interval", "2"], 10, _TRAIN_LOSS,
       env=_MNIST_ENV),
    _p("examples/mnist_rnn", "examples", "mnist_rnn",
       ["main.py", "--epochs", "1", "--log-interval", "2"], 10, _TRAIN_LOSS, env=_MNIST_ENV),
    _p("examples/mnist_forward_forward", "examples", "mnist_forward_forward",
       ["main.py", "--epochs", "20", "--no_accel", "--train_size", "640", "--test_size", "256",
        "--log-interval", "10"], 40, r"Loss:\s+([-\d.e+]+)", env=_MNIST_ENV),
    _p("examples/vae", "examples", "vae", ["main.py", "--epochs", "1", "--no-accel",
       "--log-interval", "1"], 5, r"Average loss: ([-\d.e+]+)", env=_MNIST_ENV),
    _p("examples/siamese_network", "examples", "siamese_network",
       ["main.py", "--epochs", "1", "--no-accel", "--dry-run"], 1, _TRAIN_LOSS, env=_MNIST_ENV),
    *[
        # These train until CartPole is solved; they are stopped after `stop_after` seconds and
        # count as running if they got that far without an error. "Loss" is the running reward.
        _p(f"examples/reinforcement_learning/{script} (stopped at 60 s)", "examples",
           "reinforcement_learning", [f"{script}.py"], None,
           r"Average reward: ([-\d.]+)", stop_after=60)
        for script in ("reinforce", "actor_critic")
    ],
    _p("examples/regression", "examples", "regression", ["main.py"], None,
       r"Loss: ([-\d.e+]+) after"),
    _p("examples/time_sequence_prediction", "examples", "time_sequence_prediction",
       ["train.py", "--steps", "1"], 1, r"test loss: ([-\d.e+]+)",
       setup=["generate_sine_wave.py"]),
    _p("examples/word_language_model (LSTM)", "examples", "word_language_model",
       ["main.py", "--epochs", "1", "--emsize", "32", "--nhid", "32", "--bptt", "20",
        "--log-interval", "10", "--save", "/tmp/wlm_lstm.pt"], 30,
       r"valid loss\s+([-\d.e+]+)", data=_wikitext_standin, tstep=r"ms/batch\s+([\d.]+)"),
    _p("examples/word_language_model (Transformer)", "examples", "word_language_model",
       ["main.py", "--epochs", "1", "--model", "Transformer", "--emsize", "32", "--nhid", "32",
        "--nhead", "2", "--bptt", "20", "--lr", "5", "--log-interval", "10",
        "--save", "/tmp/wlm_tf.pt"], 30, r"valid loss\s+([-\d.e+]+)", data=_wikitext_standin,
       tstep=r"ms/batch\s+([\d.]+)"),
    *[
        _p(f"makemore --type {t}", "makemore", ".",
           ["makemore.py", "-i", "names.txt", "-o", f"/tmp/makemore_{t}", "--type", t,
            "--max-steps", "100", "--num-workers", "0", "--n-layer", "2"], 100,
           r"step \d+ \| loss ([-\d.e+]+)", tstep=r"step time ([\d.]+)ms")
        for t in ("bigram", "mlp", "rnn", "gru", "bow", "transformer")
    ],
    _p("micrograd test/test_engine.py", "micrograd", ".",
       ["-m", "pytest", "-q", "-p", "no:cacheprovider", "test/test_engine.py"], None,
       None, paths=(".",)),
    _p("minGPT projects/adder", "minGPT", "projects/adder",
       ["adder.py", "--trainer.max_iters=30", "--trainer.num_workers=0", "--data.ndigit=1",
        "--model.model_type=gpt-nano"], 30, r"train loss ([-\d.e+]+)", paths=("../..",),
       tstep=r"iter_dt ([\d.]+)ms"),
    _p("minGPT projects/chargpt", "minGPT", "projects/chargpt",
       ["chargpt.py", "--trainer.max_iters=30", "--trainer.num_workers=0",
        "--model.model_type=gpt-nano"], 30,
       r"train loss ([-\d.e+]+)", data=_chargpt_standin, paths=("../..",),
       tstep=r"iter_dt ([\d.]+)ms"),
    *[
        _p(f"timm {m} fwd/bwd", "pytorch-image-models", ".",
           [os.path.join(HERE, "timm_train_steps.py"), m, "3"], 3,
           r"loss ([-\d.e+]+)", paths=(".",), tstep=r"time ([\d.]+) ms")
        for m in ("resnet18", "vit_tiny_patch16_224", "convnext_atto", "mobilenetv3_small_100")
    ],
]  # fmt: skip


# --------------------------------------------------------------------------- running
def _command(python, torch_python, cmd):
    if torch_python:
        return [torch_python, *cmd]
    import importlib.util

    try:
        has_run = importlib.util.find_spec("ember.run") is not None
    except ImportError:
        has_run = False
    if has_run and cmd[0] != "-m":
        return [python, "-m", "ember.run", *cmd]
    return [python, os.path.abspath(__file__), "--exec", *cmd]


def _first_error(text):
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    for i, ln in enumerate(lines):
        if ln.startswith("Traceback"):
            for later in lines[i + 1 :]:
                if not later.startswith((" ", "\t", "Traceback", "During handling", "The above")):
                    return later.strip()
    for ln in lines:
        if re.match(r"^(E\s+)?\w+(Error|Exception)\b", ln) or "FAILED" in ln:
            return ln.strip()
    return lines[-1].strip() if lines else ""


_EXTRA_PATHS = []


def run_one(prog, root, torch_python, timeout):
    cwd = os.path.join(root, prog["repo"], prog["cwd"])
    env = dict(os.environ)
    extra = [STUBS] + [os.path.normpath(os.path.join(cwd, p)) for p in prog["paths"]]
    env["PYTHONPATH"] = os.pathsep.join(extra + [env.get("PYTHONPATH", "")] + _EXTRA_PATHS)
    env.update(prog["env"])
    env.setdefault("OMP_NUM_THREADS", "2")
    if prog["data"]:
        prog["data"](cwd)
    out = ""
    if prog["setup"]:
        r = subprocess.run(
            _command(sys.executable, torch_python, prog["setup"]),
            cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        if r.returncode != 0:
            return dict(ok=False, err="setup: " + _first_error(r.stdout + r.stderr), loss=None,
                        step=None, out=r.stdout + r.stderr)  # fmt: skip
    t0 = time.perf_counter()
    limit = prog["stop_after"] or timeout
    try:
        r = subprocess.run(
            _command(sys.executable, torch_python, prog["cmd"]),
            cwd=cwd, env=env, capture_output=True, text=True, timeout=limit,
        )  # fmt: skip
        out, rc = r.stdout + r.stderr, r.returncode
    except subprocess.TimeoutExpired as e:
        out = "".join(
            b.decode(errors="replace") if isinstance(b, bytes) else (b or "")
            for b in (e.stdout, e.stderr)
        )
        if prog["stop_after"] and "Traceback" not in out:
            rc = 0  # still training, without an error, when stopped: as intended
        else:
            out += f"\nTimeoutExpired: no exit within {limit}s"
            rc = -1
    wall = time.perf_counter() - t0
    loss = None
    if prog["loss"]:
        found = re.findall(prog["loss"], out)
        loss = found[-1] if found else None
    elif rc == 0:
        m = re.search(r"(\d+) passed", out)
        loss = f"{m.group(1)} passed" if m else None
    steps = prog["steps"]
    if steps is None:
        m = re.search(r"after (\d+) batches", out) or re.findall(r"Episode (\d+)", out)
        if isinstance(m, list):
            steps = int(m[-1]) if m else None
        else:
            steps = int(m.group(1)) if m else None
    times = [float(t) for t in re.findall(prog["tstep"], out)] if prog["tstep"] else []
    if times:
        # The program's own per-step timing: the median of what it printed.
        step = f"{sorted(times)[len(times) // 2]:.0f} ms"
    elif steps:
        step = f"{1000 * wall / steps:.0f} ms*"
    else:
        step = f"{wall:.1f} s total"
    return dict(ok=rc == 0, err="" if rc == 0 else _first_error(out), loss=loss, step=step,
                out=out)  # fmt: skip


def _log(folder, prog, text, suffix):
    if folder:
        os.makedirs(folder, exist_ok=True)
        fn = re.sub(r"[^\w.-]+", "_", prog["name"]) + suffix + ".log"
        with open(os.path.join(folder, fn), "w") as f:
            f.write(text)


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--exec":
        return _exec(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", help="folder of the checkouts")
    ap.add_argument("--only", nargs="*", help="run the programs whose name contains one of these")
    ap.add_argument("--torch", help="run under this Python with real PyTorch instead of ember")
    ap.add_argument(
        "--compare", metavar="PYTHON",
        help="run every program on ember and under this Python with real PyTorch; one table",
    )  # fmt: skip
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--log", help="folder to write each program's full output to")
    ap.add_argument(
        "--pythonpath", action="append", default=[],
        help="extra import folder for the programs (e.g. where gymnasium was pip-installed)",
    )  # fmt: skip
    args = ap.parse_args(argv)
    _EXTRA_PATHS[:] = args.pythonpath
    root = os.path.abspath(args.root)
    progs = [p for p in PROGRAMS if not args.only or any(s in p["name"] for s in args.only)]
    if args.compare:
        print(
            "| program | ran unchanged on ember | first error on ember | final loss ember | "
            "final loss PyTorch | time per step ember | time per step PyTorch |"
        )
        print("|---|---|---|---|---|---|---|")
    else:
        backend = f"PyTorch ({args.torch})" if args.torch else "ember"
        print(
            f"| program | ran unchanged on {backend} | first error | final loss | time per step |"
        )
        print("|---|---|---|---|---|")
    for prog in progs:
        r = run_one(prog, root, args.torch, args.timeout)
        _log(args.log, prog, r["out"], "")
        err = r["err"].replace("|", "\\|")[:160]
        cells = [prog["name"], "yes" if r["ok"] else "no", err, r["loss"] or ""]
        if args.compare:
            t = run_one(prog, root, args.compare, args.timeout)
            _log(args.log, prog, t["out"], ".torch")
            tl = (t["loss"] or "") if t["ok"] else f"(failed: {t['err'][:60]})"
            cells += [tl, r["step"] or "", t["step"] or ""]
        else:
            cells += [r["step"] or ""]
        print("| " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
