"""autograd.graph: Node type for isinstance checks."""

from .. import _C

Node = _C.Node
