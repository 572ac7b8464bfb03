"""The seed tutorial's multi-layer perceptron (3 points, 3 classes).

Fixes to the seed code: CrossEntropyLoss needs class indices of shape (N,),
so the targets are [0, 1, 2] (the seed's [[0], [1], [2]] raises in PyTorch
too), and it trains for 200 epochs so the prediction is meaningful.
"""

import ember as torch
import ember.nn as nn
import ember.optim as optim


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.fc1 = nn.Linear(2, 16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x):
        x = torch.relu(self.fc1(x))
        x = self.fc2(x)
        return x


def main(epochs=200, seed=0):
    torch.manual_seed(seed)
    x = torch.tensor([[1, 2], [3, 4], [5, 6]], dtype=torch.float32)
    y = torch.tensor([0, 1, 2], dtype=torch.long)

    net = Net()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.05, momentum=0.9)

    for epoch in range(epochs):
        pred = net(x)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if epoch % 50 == 0:
            print(f"epoch {epoch:3d}  loss {loss.item():.4f}")

    test_x = torch.tensor([[7, 8]], dtype=torch.float32)
    test_y = torch.tensor([[2]], dtype=torch.long)
    pred = net(test_x)
    _, predicted = torch.max(pred.data, 1)
    print("Predicted: ", predicted.item())
    print("Actual: ", test_y.item())
    return loss.item(), predicted.item()


if __name__ == "__main__":
    main()
