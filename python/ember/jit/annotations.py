"""ember.jit.annotations: the type names TorchScript code imports (`from torch.jit.annotations
import List`). ember runs such code eagerly, so they are the `typing` names themselves, as in
PyTorch, plus the BroadcastingList aliases."""

from typing import Any, Dict, List, Optional, Tuple, Union  # noqa: F401

# TorchScript's BroadcastingListN[T]: an int/float or a list of N of them; eagerly, a List.
BroadcastingList1 = BroadcastingList2 = BroadcastingList3 = List

__all__ = [
    "Any",
    "BroadcastingList1",
    "BroadcastingList2",
    "BroadcastingList3",
    "Dict",
    "List",
    "Optional",
    "Tuple",
    "Union",
]
