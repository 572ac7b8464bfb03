"""Linear regression from the seed tutorial: fit y = 2x with two scalar parameters.

The seed trains for 10 epochs with lr=0.01, which is far from converged; this
version keeps its code and trains for 500 epochs so w -> 2 and b -> 0.
"""

import ember as torch
import ember.nn as nn
import ember.optim as optim


def main(epochs=500):
    # Define the training data
    x = torch.tensor([1, 2, 3, 4, 5], dtype=torch.float32)
    y = torch.tensor([2, 4, 6, 8, 10], dtype=torch.float32)

    # Define the model parameters
    w = torch.tensor(0.0, requires_grad=True)
    b = torch.tensor(0.0, requires_grad=True)

    loss_fn = nn.MSELoss()
    optimizer = optim.SGD([w, b], lr=0.01)

    for epoch in range(epochs):
        pred = w * x + b
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if epoch % 100 == 0:
            print(f"epoch {epoch:4d}  loss {loss.item():.6f}")

    print("w: ", w.item())
    print("b: ", b.item())
    return w.item(), b.item()


if __name__ == "__main__":
    main()
