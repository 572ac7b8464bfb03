"""Stand-in `torch` package for processes started under `ember.run`.

Spawned DataLoader workers and other multiprocessing children inherit the
parent's sys.path (and subprocesses its PYTHONPATH), not its import hook:
`ember.run` puts this folder on both, so their first `import torch` lands
here, installs the hook again and hands over the module `ember` itself.
"""

import sys

import ember
import ember.run

ember.run.install()  # drops this stand-in from sys.modules...
sys.modules["torch"] = ember  # ...and the import of `torch` returns ember
