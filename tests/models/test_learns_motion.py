import pytest
import torch

import mrstnet


def _moving_squares(n: int, gen: torch.Generator, frames: int = 8, size: int = 32):
    """Class 0: a square moving right; class 1: the same clip reversed in time (moving left).
    Appearance and position are random, so only the order of frames tells the classes apart."""
    y = torch.randint(0, 2, (n,), generator=gen)
    x = torch.rand(n, 3, frames, size, size, generator=gen) * 0.3
    for i in range(n):
        r = int(torch.randint(4, size - 12, (1,), generator=gen))
        c0 = int(torch.randint(0, size - 8 - frames, (1,), generator=gen))
        colour = torch.rand(3, 1, 1, generator=gen)
        for t in range(frames):
            c = c0 + (t if y[i] == 0 else frames - 1 - t)
            x[i, :, t, r : r + 6, c : c + 6] = colour
    return (x - 0.5) / 0.25, y


@pytest.mark.slow
def test_demo_model_learns_direction_of_motion():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    model = mrstnet.create_model("mrst_t_net_small", num_classes=2, dropout=0.0)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    for _ in range(90):
        x, y = _moving_squares(16, gen)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    x, y = _moving_squares(128, gen)
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == y).float().mean().item()
    assert accuracy > 0.8  # a model blind to frame order stays near 0.5
