"""course_utils.training: the fit loop minimises, seeds, and reports bad input."""

import pytest
import torch

from course_utils import training


def test_fit_solves_least_squares():
    torch.manual_seed(0)
    a = torch.randn(20, 3, dtype=torch.float64)
    b = torch.randn(20, dtype=torch.float64)
    w = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    result = training.fit(lambda step: ((a @ w - b) ** 2).mean(), [w], num_steps=500,
                          lr=0.05, progress=False)
    exact = torch.linalg.lstsq(a, b[:, None]).solution[:, 0]
    assert torch.allclose(w.detach(), exact, atol=1e-4)
    assert len(result.losses) == 500 and result.losses[-1] < result.losses[0]


def test_fit_is_reproducible_with_a_seed():
    def run():
        model = torch.nn.Linear(2, 1)
        with torch.no_grad():
            model.weight.zero_()
            model.bias.zero_()
        x = torch.ones(8, 2)
        return training.fit(lambda s: (model(x + torch.randn(8, 2)) ** 2).mean(),
                            model.parameters(), num_steps=5, seed=3, progress=False).losses

    assert run() == run()


def test_fit_errors():
    w = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="num_steps"):
        training.fit(lambda s: w.sum(), [w], num_steps=0)
    with pytest.raises(ValueError, match="optimizer"):
        training.fit(lambda s: w.sum(), [w], num_steps=1, optimizer="lbfgs")
    with pytest.raises(RuntimeError, match="lower `lr`"):
        training.fit(lambda s: w.sum() * float("nan"), [w], num_steps=1, progress=False)


def test_accuracy_and_count():
    model = torch.nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.copy_(torch.eye(2))
        model.bias.zero_()
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0]])
    assert training.accuracy(model, x, torch.tensor([0, 1, 1])) == pytest.approx(2 / 3)
    assert training.count_parameters(model) == 6
