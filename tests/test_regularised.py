"""The regularised Neural ODE: its penalties against closed forms and autograd."""

import math

import pytest
import torch

from course_utils.models.regularised import RegularisedField, RegularisedNeuralODE

DTYPE = torch.float64


class Linear(torch.nn.Module):
    def __init__(self, A):
        super().__init__()
        self.A = torch.nn.Parameter(torch.as_tensor(A, dtype=DTYPE))

    def forward(self, t, y):
        return y @ self.A.T


def test_penalties_of_a_linear_field_match_closed_forms():
    """y' = -y: |f|² = |y0|² e^{-2t}, so 𝒦 = |y0|² (1 - e^{-2T}) / 2; ∂f/∂y = -I, so
    E|εᵀ∂f/∂y|² T = dim T."""
    torch.manual_seed(0)
    dim, T = 3, 1.5
    model = RegularisedNeuralODE(Linear(-torch.eye(dim)), dim, kinetic=1.0, jacobian=1.0,
                                 final_time=T, rtol=1e-10, atol=1e-12)
    x = torch.randn(20000, dim, dtype=DTYPE)
    y_T, penalty = model(x)
    torch.testing.assert_close(y_T, x * math.exp(-T))
    kinetic = float((x**2).sum(1).mean()) * (1 - math.exp(-2 * T)) / 2
    assert model.last_kinetic == pytest.approx(kinetic, rel=1e-8)
    assert model.last_jacobian == pytest.approx(dim * T, rel=0.03)  # Hutchinson, 20000 rows
    assert float(penalty.detach()) == pytest.approx(model.last_kinetic + model.last_jacobian)


def test_penalty_gradient_matches_finite_differences():
    torch.manual_seed(1)
    A = torch.tensor([[-0.5, 1.0], [-1.0, -0.2]], dtype=DTYPE)
    x = torch.randn(4, 2, dtype=DTYPE)
    noise = torch.randn(4, 2, dtype=DTYPE)

    def penalty_of(matrix):
        model = RegularisedNeuralODE(Linear(matrix), 2, kinetic=0.3, jacobian=0.7,
                                     rtol=1e-11, atol=1e-12)
        torch.manual_seed(5)  # the same ε in every call
        return model(x)[1], model

    value, model = penalty_of(A)
    value.backward()
    grad = model.func.A.grad
    for i in range(2):
        for j in range(2):
            plus, minus = A.clone(), A.clone()
            plus[i, j] += 1e-6
            minus[i, j] -= 1e-6
            with torch.no_grad():
                diff = (penalty_of(plus)[0] - penalty_of(minus)[0]) / 2e-6
            assert abs(float(grad[i, j]) - float(diff)) < 1e-5
    del noise


def test_zero_weights_solve_the_plain_neural_ode_without_extra_channels():
    calls = []

    class Field(Linear):
        def forward(self, t, y):
            calls.append(y.shape)
            return super().forward(t, y)

    model = RegularisedNeuralODE(Field(-torch.eye(2)), 2)
    y_T, penalty = model(torch.ones(5, 2, dtype=DTYPE))
    assert float(penalty) == 0.0 and set(calls) == {(5, 2)}
    assert model.last_stats.nfe == len(calls)


def test_field_channels_and_weights_are_checked():
    field = RegularisedField(Linear(2 * torch.eye(2)), 2, jacobian=False)
    out = field(torch.tensor(0.0), torch.tensor([[1.0, 2.0, 0.0, 0.0]], dtype=DTYPE))
    torch.testing.assert_close(out, torch.tensor([[2.0, 4.0, 20.0, 0.0]], dtype=DTYPE))
    with pytest.raises(ValueError, match="kinetic"):
        RegularisedNeuralODE(Linear(torch.eye(2)), 2, kinetic=-1.0)
