"""`ember.hub`: PyTorch's hub helpers for downloading files and checkpoints.

Model libraries (timm) import `download_url_to_file`, `get_dir`, `HASH_REGEX` and `urlparse`
from torch.hub. Paths follow PyTorch: `$TORCH_HOME/hub` (TORCH_HOME defaulting to
`$XDG_CACHE_HOME/torch`, i.e. `~/.cache/torch`), so existing caches are shared. Checkpoints are
read with `ember.load` (whatever formats it reads). Loading repositories' `hubconf.py`
(`hub.load`/`hub.list`) is not provided.
"""

import hashlib
import os
import re
import shutil
import tempfile
import urllib.request
from urllib.parse import urlparse  # noqa: F401 - re-exported as PyTorch does

__all__ = [
    "HASH_REGEX",
    "download_url_to_file",
    "get_dir",
    "set_dir",
    "load_state_dict_from_url",
]

# The sha256 prefix in checkpoint names such as resnet18-f37072fd.pth.
HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")

_hub_dir = None


def _get_torch_home():
    xdg = os.getenv("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    return os.path.expanduser(os.getenv("TORCH_HOME", os.path.join(xdg, "torch")))


def get_dir():
    """The hub cache folder: set_dir's value, else $TORCH_HOME/hub."""
    if _hub_dir is not None:
        return _hub_dir
    return os.path.join(_get_torch_home(), "hub")


def set_dir(d):
    """Sets the hub cache folder."""
    global _hub_dir
    _hub_dir = os.path.expanduser(os.fspath(d))


def download_url_to_file(url, dst, hash_prefix=None, progress=True):
    """Downloads `url` to `dst` (atomically); checks the sha256 starts with `hash_prefix`."""
    dst = os.path.expanduser(os.fspath(dst))
    folder = os.path.dirname(os.path.abspath(dst))
    os.makedirs(folder, exist_ok=True)
    sha = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url) as resp:
            while True:
                chunk = resp.read(1 << 20)
                if not chunk:
                    break
                sha.update(chunk)
                out.write(chunk)
        if hash_prefix is not None:
            digest = sha.hexdigest()
            if not digest.startswith(hash_prefix):
                raise RuntimeError(
                    f'invalid hash value (expected "{hash_prefix}", got "{digest}") for {url}'
                )
        shutil.move(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_state_dict_from_url(
    url,
    model_dir=None,
    map_location=None,
    progress=True,
    check_hash=False,
    file_name=None,
    weights_only=False,
):
    """Downloads (once, into model_dir or get_dir()/checkpoints) and loads a checkpoint."""
    import ember

    if model_dir is None:
        model_dir = os.path.join(get_dir(), "checkpoints")
    os.makedirs(model_dir, exist_ok=True)
    filename = file_name or os.path.basename(urlparse(url).path)
    cached = os.path.join(model_dir, filename)
    if not os.path.exists(cached):
        hash_prefix = None
        if check_hash:
            m = HASH_REGEX.search(filename)
            hash_prefix = m.group(1) if m else None
        download_url_to_file(url, cached, hash_prefix, progress=progress)
    return ember.load(cached, map_location=map_location, weights_only=weights_only)
