"""`python -m ember.run script.py [args]`: run an unmodified PyTorch program on ember.

A meta-path finder maps every `torch` / `torch.X.Y` import to the module
`ember` / `ember.X.Y` itself (the same module object, so `isinstance` checks
and module-level state are shared between the two names). A torch module
that ember does not provide fails at the import with a ModuleNotFoundError
naming it, rather than with an AttributeError somewhere later.

Also installed as the `ember-run` console script. `install()` does the
aliasing inside an already running interpreter.
"""

import importlib
import importlib.abc
import importlib.util
import os
import runpy
import sys

_ALIAS = "torch"
_TARGET = "ember"

_USAGE = "usage: python -m ember.run script.py [args ...]\n       python -m ember.run -m module [args ...]"


class _AliasLoader(importlib.abc.Loader):
    """Hands the already imported ember module to the import system."""

    def __init__(self, module):
        self._module = module
        self._spec = getattr(module, "__spec__", None)

    def create_module(self, spec):
        return self._module

    def exec_module(self, module):
        # The import system stamps the alias spec (name "torch...") on the module;
        # put ember's own back so pickling and relative imports inside ember keep working.
        module.__spec__ = self._spec


class TorchAliasFinder(importlib.abc.MetaPathFinder):
    """Resolves `torch` and `torch.*` to `ember` and `ember.*`."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != _ALIAS and not fullname.startswith(_ALIAS + "."):
            return None
        target_name = _TARGET + fullname[len(_ALIAS) :]
        try:
            module = importlib.import_module(target_name)
        except ModuleNotFoundError as e:
            missing = e.name or ""
            if target_name == missing or target_name.startswith(missing + "."):
                raise ModuleNotFoundError(
                    f"import {fullname}: {fullname} is not provided by ember "
                    f"(no module {target_name})",
                    name=fullname,
                ) from None
            raise
        return importlib.util.spec_from_loader(
            fullname,
            _AliasLoader(module),
            is_package=hasattr(module, "__path__"),
        )


_finder = TorchAliasFinder()


def install():
    """Make `import torch` (and every `torch.*` submodule) import ember from now on."""
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
    # A torch module imported before install() would shadow the alias.
    for name in [n for n in sys.modules if n == _ALIAS or n.startswith(_ALIAS + ".")]:
        if not getattr(sys.modules[name], "__name__", "").startswith(_TARGET):
            del sys.modules[name]


def uninstall():
    """Undo install(): drop the finder and the torch.* aliases from sys.modules."""
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    for name in [n for n in sys.modules if n == _ALIAS or n.startswith(_ALIAS + ".")]:
        if getattr(sys.modules[name], "__name__", "").startswith(_TARGET):
            del sys.modules[name]


# Holds a stand-in `torch` package for child processes (see _torch_alias/torch/__init__.py).
_ALIAS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_torch_alias")


def _expose_to_children():
    """Make `import torch` resolve to ember in spawned workers and Python subprocesses too."""
    if _ALIAS_DIR not in sys.path:
        sys.path.insert(1, _ALIAS_DIR)  # after the script's folder, before site-packages
    paths = os.environ.get("PYTHONPATH", "")
    if _ALIAS_DIR not in paths.split(os.pathsep):
        os.environ["PYTHONPATH"] = _ALIAS_DIR + (os.pathsep + paths if paths else "")


def main(argv=None):
    """Entry point of `python -m ember.run` and `ember-run`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_USAGE, file=sys.stderr if not argv else sys.stdout)
        return 2 if not argv else 0
    install()
    if argv[0] == "-m":
        if len(argv) < 2:
            print(_USAGE, file=sys.stderr)
            return 2
        # As `python -m`: argv[0] becomes the module's file, the cwd leads sys.path.
        sys.argv = [argv[1], *argv[2:]]
        sys.path[0] = os.getcwd()
        _expose_to_children()
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        return 0
    script = argv[0]
    if not os.path.exists(script):
        print(f"ember.run: can't open file {script!r}: no such file", file=sys.stderr)
        return 2
    # As `python script.py`: sys.argv is [script, *args] and the script's folder leads sys.path.
    sys.argv = [script, *argv[1:]]
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    _expose_to_children()
    runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
