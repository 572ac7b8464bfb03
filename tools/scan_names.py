"""Counts the `torch.*` names that Python code bases use, and whether ember has each.

    python tools/scan_names.py CHECKOUTS_DIR [--top 100] [--markdown]

Parses every .py file under CHECKOUTS_DIR with `ast` (files that do not parse are skipped and
counted). A use is a dotted attribute chain rooted at a name bound to torch or one of its
submodules (`import torch`, `import torch.nn as nn`, `from torch import nn`,
`from torch.nn import functional as F`), or a name imported with `from torch... import X`.
Tensor methods (`x.view(...)`) cannot be attributed statically and are not counted.

"ember has it" means `ember.<rest>` resolves: by attribute lookup, or by importing the module.
"""

import argparse
import ast
import collections
import importlib
import os
import sys


def _dotted(node):
    """Returns 'a.b.c' for an Attribute/Name chain, or None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


class _Scanner(ast.NodeVisitor):
    def __init__(self, counts):
        self.counts = counts
        self.alias = {}  # local name -> full torch dotted name

    def visit_Import(self, node):
        for a in node.names:
            if a.name == "torch" or a.name.startswith("torch."):
                if a.asname:
                    self.alias[a.asname] = a.name
                else:
                    self.alias["torch"] = "torch"

    def visit_ImportFrom(self, node):
        mod = node.module or ""
        if node.level == 0 and (mod == "torch" or mod.startswith("torch.")):
            for a in node.names:
                if a.name == "*":
                    continue
                full = f"{mod}.{a.name}"
                self.alias[a.asname or a.name] = full
                self.counts[full] += 1

    def visit_Attribute(self, node):
        chain = _dotted(node)
        if chain is not None:
            root, _, rest = chain.partition(".")
            if root in self.alias:
                self.counts[f"{self.alias[root]}.{rest}"] += 1
                return  # the maximal chain only, not its prefixes
        self.generic_visit(node)

    def visit_Name(self, node):
        full = self.alias.get(node.id)
        if full is not None and full != "torch" and isinstance(node.ctx, ast.Load):
            # A module alias used bare (nn, F) is not a use of a name by itself.
            if not _is_module(full):
                self.counts[full] += 1


_MODULE_CACHE = {}


def _is_module(full):
    if full not in _MODULE_CACHE:
        _MODULE_CACHE[full] = (
            full.count(".") <= 3 and full.split(".")[-1][:1].islower() and (full in _KNOWN_MODULES)
        )
    return _MODULE_CACHE[full]


_KNOWN_MODULES = {
    "torch.nn",
    "torch.nn.functional",
    "torch.optim",
    "torch.utils.data",
    "torch.distributed",
    "torch.multiprocessing",
    "torch.onnx",
    "torch.nn.init",
    "torch.autograd",
    "torch.cuda",
    "torch.fx",
    "torch.utils.checkpoint",
    "torch.distributions",
    "torch.jit",
}


def scan(root):
    counts = collections.Counter()
    files = bad = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for fn in filenames:
            if not fn.endswith(".py"):
                continue
            path = os.path.join(dirpath, fn)
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    tree = ast.parse(f.read(), path)
            except (SyntaxError, ValueError):
                bad += 1
                continue
            files += 1
            _Scanner(counts).visit(tree)
    return counts, files, bad


def ember_has(full):
    """True when ember.<rest of full> resolves (attribute chain or importable module)."""
    parts = full.split(".")
    parts[0] = "ember"
    try:
        obj = importlib.import_module("ember")
    except ImportError:
        return False
    for i, p in enumerate(parts[1:], start=1):
        if hasattr(obj, p):
            obj = getattr(obj, p)
            continue
        try:
            obj = importlib.import_module(".".join(parts[: i + 1]))
        except ImportError:
            return False
    return True


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", help="folder holding the checkouts")
    ap.add_argument("--top", type=int, default=100)
    args = ap.parse_args(argv)
    counts, files, bad = scan(args.root)
    total = sum(counts.values())
    top = counts.most_common(args.top)
    have = [(n, c, ember_has(n)) for n, c in top]
    distinct_have = sum(1 for n in counts if ember_has(n))
    uses_have = sum(c for n, c in counts.items() if ember_has(n))
    print(
        f"{files} files parsed ({bad} skipped), {len(counts)} distinct torch names, {total} uses; "
        f"ember has {distinct_have}/{len(counts)} names covering {uses_have}/{total} uses "
        f"({100.0 * uses_have / max(total, 1):.1f}%). Top {args.top}: ember has "
        f"{sum(1 for h in have if h[2])}/{len(have)}."
    )
    print()
    print("| # | name | uses | ember has it |")
    print("|---|---|---|---|")
    for i, (n, c, h) in enumerate(have, 1):
        print(f"| {i} | `{n}` | {c} | {'yes' if h else '**no**'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
