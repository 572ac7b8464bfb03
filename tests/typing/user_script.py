"""A small typed training script written the way a PyTorch user writes one, type-checked by
tests/test_typing.py with mypy (no --ignore-missing-imports): it must pass, and the
`assert_type` lines pin the types mypy sees for ember's API (a regression to `Any` fails them).
It also runs (the test runs it) so it stays real code."""

import sys
from typing import List, Optional, Tuple, Union

import ember as torch
import ember.nn.functional as F
from ember import Tensor, nn
from ember.utils.data import DataLoader, Dataset

if sys.version_info >= (3, 11):
    from typing import assert_type
else:
    from typing_extensions import assert_type


class Squares(Dataset):
    """x -> x**2 on [-1, 1], as (input, target) pairs of shape (1,)."""

    def __init__(self, n: int) -> None:
        self.x = torch.linspace(-1.0, 1.0, n).unsqueeze(1)

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, i: int) -> Tuple[Tensor, Tensor]:
        x = self.x[i]
        return x, x * x


class MLP(nn.Module):
    def __init__(self, hidden: int = 16) -> None:
        super().__init__()
        self.fc1 = nn.Linear(1, hidden)
        self.fc2 = nn.Linear(hidden, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.relu(self.fc1(x)))


def train(epochs: int = 30) -> List[float]:
    torch.manual_seed(0)
    model = MLP().train()
    assert_type(model, MLP)
    params = list(model.parameters())
    assert_type(params, List[nn.Parameter])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loader = DataLoader(Squares(64), batch_size=16, shuffle=True)
    losses: List[float] = []
    for _ in range(epochs):
        total = 0.0
        for x, y in loader:
            opt.zero_grad()
            loss = F.mse_loss(model(x), y)
            assert_type(loss, Tensor)
            loss.backward()
            opt.step()
            total += loss.item()
        losses.append(total / len(loader))
    return losses


def tensor_api() -> None:
    a = torch.randn(3, 4)
    assert_type(a, Tensor)
    b = torch.zeros(4, 2, dtype=torch.float32)
    c = a @ b + 1.0
    assert_type(c, Tensor)
    assert_type(c.relu().sum(dim=0, keepdim=True), Tensor)
    assert_type(c.shape, torch.Size)
    assert_type(c.size(0), int)
    assert_type(c.dim(), int)
    assert_type(c.dtype, torch.dtype)
    assert_type(c.device, torch.device)
    assert_type(c.requires_grad, bool)
    assert_type(c.grad, Optional[Tensor])
    assert_type(c.is_floating_point(), bool)
    assert_type(torch.cat([a, a], dim=0), Tensor)
    assert_type(a.unbind(0), Tuple[Tensor, ...])
    first: float = float(a[0, 0])
    n: int = a.numel()
    assert_type(F.softmax(a, dim=1), Tensor)
    assert_type(F.cross_entropy(a, torch.tensor([0, 1, 3])), Tensor)
    mask = a > 0
    assert_type(mask, Tensor)
    assert_type(a.masked_fill(mask, 0.0).mean().item(), Union[int, float, bool])
    with torch.no_grad():
        d = a.view(-1).to("cpu").float()
    assert_type(d, Tensor)
    print(first, n, d.shape)


if __name__ == "__main__":
    tensor_api()
    losses = train()
    print(f"first loss {losses[0]:.4f} last loss {losses[-1]:.4f}")
