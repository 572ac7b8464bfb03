"""List Tensor in-place methods (`x_`) that PyTorch has and ember lacks.

PyTorch's names come from a Python with PyTorch installed (never imported into
ember's own interpreter): `--torch-python /path/to/python` runs it in a
subprocess, or `--torch-names FILE` reads a saved list (one name a line).

    python tools/list_missing_inplace.py --torch-python /tmp/tv/bin/python

Prints two groups: in-place variants of ops ember has (`x` exists, `x_` does
not: these should be added) and in-place ops whose base op ember lacks too.
Exits 1 when the first group is not empty.
"""

import argparse
import subprocess
import sys

_DUMP = (
    "import torch\n"
    "print('\\n'.join(sorted(n for n in dir(torch.Tensor)\n"
    "    if n.endswith('_') and not n.startswith('_') and hasattr(torch.Tensor, n[:-1]))))\n"
)


def torch_inplace_names(torch_python=None, names_file=None):
    if names_file:
        with open(names_file) as f:
            return [line.strip() for line in f if line.strip()]
    out = subprocess.run([torch_python, "-c", _DUMP], check=True, capture_output=True, text=True)
    return out.stdout.split()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--torch-python", help="a Python interpreter that can import torch")
    g.add_argument("--torch-names", help="file with PyTorch's in-place Tensor method names")
    args = ap.parse_args(argv)

    import ember

    names = torch_inplace_names(args.torch_python, args.torch_names)
    missing = [n for n in names if not hasattr(ember.Tensor, n)]
    variants = [n for n in missing if hasattr(ember.Tensor, n[:-1])]
    others = [n for n in missing if n not in variants]
    print(f"PyTorch in-place Tensor methods with an out-of-place twin: {len(names)}")
    print(f"missing in ember, base op present ({len(variants)}): {' '.join(variants) or '-'}")
    print(f"missing in ember, base op missing too ({len(others)}): {' '.join(others) or '-'}")
    return 1 if variants else 0


if __name__ == "__main__":
    sys.exit(main())
