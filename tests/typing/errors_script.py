"""Misuses of ember's API that mypy must reject (tests/test_typing.py checks that each line
marked `# E: code` gets exactly that error and no other line gets one): proof that the stub and
annotations give real types, not Any. Never run."""

import ember as torch

x = torch.randn(2, 3)
n: int = torch.zeros(3)  # E: assignment
s: str = x.sum()  # E: assignment
x.no_such_method()  # E: attr-defined
x.view("a")  # E: arg-type
d = x.size(0) + "a"  # E: operator
y = x.shape.no_such_attribute  # E: attr-defined
flag: str = x.requires_grad  # E: assignment
m = torch.nn.Linear(3, 1).eval()
p: int = next(m.parameters())  # E: assignment
