"""Placeholders for torchvision names the stand-in does not provide.

Libraries such as timm import many torchvision names at module level but use them only when
asked (a dataset, an augmentation). Importing a placeholder works; using one raises
NotImplementedError naming it, so a program that really needs it is reported as failing.
"""


def missing(module, name):
    def fail(*args, **kwargs):
        raise NotImplementedError(
            f"{module}.{name} is not provided by the torchvision data stand-in of "
            "tools/run_programs.py"
        )

    if name[:1].isupper():
        return type(name, (), {"__init__": fail, "__module__": module})
    return fail
