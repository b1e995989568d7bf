"""course_utils.models.neural_ode: shapes, the ODE block against closed forms, adjoint
against backpropagation, the digits classifiers, and the monotonicity of 1-D flows."""

import numpy as np
import pytest
import torch
from scipy.linalg import expm

from course_utils.models.neural_ode import (
    DIGITS_MODELS,
    AugmentedNeuralODE,
    Classifier,
    ConcatLinear,
    ODEBlock,
    ODEFunc,
    digits_classifier,
)

DTYPE = torch.float64


class LinearField(torch.nn.Module):
    def __init__(self, matrix):
        super().__init__()
        self.matrix = torch.nn.Parameter(torch.as_tensor(matrix, dtype=DTYPE))

    def forward(self, t, y):
        return y @ self.matrix.T


def test_concat_linear_is_a_linear_layer_on_x_and_t():
    torch.manual_seed(0)
    layer = ConcatLinear(3, 5).double()
    reference = torch.nn.Linear(4, 5).double()
    with torch.no_grad():
        reference.weight.copy_(torch.cat([layer.weight, layer.time_weight[:, None]], dim=1))
        reference.bias.copy_(layer.bias)
    x = torch.randn(7, 3, dtype=DTYPE)
    for t in (0.0, 0.7, -2.0):
        expected = reference(torch.cat([x, torch.full((7, 1), t, dtype=DTYPE)], dim=1))
        assert torch.allclose(layer(torch.tensor(t, dtype=DTYPE), x), expected, atol=1e-14)


@pytest.mark.parametrize("time_dependent", [True, False])
def test_ode_func_shapes_counts_and_zero_init(time_dependent):
    func = ODEFunc(3, hidden=8, num_layers=2, time_dependent=time_dependent)
    y = torch.randn(4, 3)
    assert func(torch.tensor(0.3), y).shape == (4, 3)
    func(torch.tensor(0.1), y)
    assert func.nfe == 2
    func.reset_nfe()
    assert func.nfe == 0
    still = ODEFunc(3, hidden=8, time_dependent=time_dependent, zero_init=True)
    assert torch.equal(still(torch.tensor(0.5), y), torch.zeros(4, 3))


def test_ode_func_rejects_bad_arguments():
    with pytest.raises(ValueError, match="num_layers"):
        ODEFunc(2, num_layers=0)
    with pytest.raises(ValueError, match="activation"):
        ODEFunc(2, activation="relu6")


@pytest.mark.parametrize("method,options", [("dopri5", {"rtol": 1e-9, "atol": 1e-11}),
                                            ("rk4", {"step_size": 0.01})])
def test_ode_block_matches_the_matrix_exponential(method, options):
    matrix = np.array([[-0.2, 1.5], [-1.0, 0.1]])
    block = ODEBlock(LinearField(matrix), final_time=1.3, method=method, **options)
    x = torch.tensor([[1.0, -0.5], [0.2, 2.0], [0.0, 0.0]], dtype=DTYPE)
    out = block(x)
    assert out.shape == x.shape
    np.testing.assert_allclose(out.detach().numpy(), x.numpy() @ expm(1.3 * matrix).T,
                               rtol=1e-7, atol=1e-9)
    times = torch.linspace(0.0, 1.3, 5, dtype=DTYPE)
    path = block.trajectory(x, times)
    assert path.shape == (5, 3, 2)
    assert torch.allclose(path[-1], out, atol=1e-8)
    assert block.nfe_forward == block.last_stats.nfe > 0
    assert block.nfe_backward == 0


def test_adjoint_and_backprop_gradients_agree():
    torch.manual_seed(1)
    func = ODEFunc(2, hidden=16).double()
    x = torch.randn(5, 2, dtype=DTYPE, requires_grad=True)
    grads = {}
    for adjoint in (False, True):
        block = ODEBlock(func, final_time=1.0, rtol=1e-10, atol=1e-12, adjoint=adjoint)
        func.zero_grad()
        x.grad = None
        (block(x) ** 2).sum().backward()
        grads[adjoint] = [x.grad.clone()] + [p.grad.clone() for p in func.parameters()]
        if adjoint:
            assert block.nfe_backward > 0
    for a, b in zip(grads[False], grads[True]):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-8)


def test_ode_block_counts_evaluations_and_rejects_bad_time():
    func = ODEFunc(2, hidden=4)
    block = ODEBlock(func, method="rk4", step_size=0.25)
    block(torch.randn(3, 2))
    assert block.nfe_forward == func.nfe == 16
    with pytest.raises(ValueError, match="final_time"):
        ODEBlock(func, final_time=0.0)


@pytest.mark.parametrize("kind", DIGITS_MODELS)
def test_digits_classifiers_shapes_and_gradients(kind):
    model = digits_classifier(kind, seed=0)
    images = torch.rand(6, 1, 8, 8)
    logits = model(images)
    assert isinstance(model, Classifier)
    assert logits.shape == (6, 10)
    assert torch.allclose(model(images.flatten(1)), logits)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_digits_classifiers_parameter_counts():
    count = {kind: sum(p.numel() for p in digits_classifier(kind, seed=0).parameters())
             for kind in DIGITS_MODELS}
    lift_head = (64 * 32 + 32) + (32 * 10 + 10)
    block = 32 * 64 + 64 + 64 * 32 + 32
    assert count["resnet"] == lift_head + 6 * block
    field = (33 * 64 + 64) + (65 * 32 + 32)            # the time column adds one input
    assert count["rknet"] == count["odenet"] == lift_head + field
    assert digits_classifier("rknet").body.method == "rk4"
    assert digits_classifier("odenet").body.adjoint
    with pytest.raises(ValueError, match="kind"):
        digits_classifier("densenet")


def test_one_dimensional_neural_ode_is_increasing():
    # trajectories cannot cross: the flow map of any 1-D field is increasing
    for seed in range(3):
        torch.manual_seed(seed)
        model = AugmentedNeuralODE(1, 0, hidden=16, method="dopri5", rtol=1e-8, atol=1e-8)
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(4.0)
            x = torch.linspace(-3.0, 3.0, 200)[:, None]
            y = model(x)[:, 0]
        assert torch.all(y[1:] > y[:-1])


def test_augmented_neural_ode_shapes_and_readouts():
    x = torch.randn(7, 2)
    model = AugmentedNeuralODE(2, augment_dim=3, hidden=8)
    assert model.augment(x).shape == (7, 5)
    assert torch.equal(model.augment(x)[:, 2:], torch.zeros(7, 3))
    assert model(x).shape == (7, 2)
    assert model.trajectory(x, num_times=11).shape == (11, 7, 5)
    linear = AugmentedNeuralODE(2, augment_dim=1, output_dim=4, readout="linear")
    assert linear(x).shape == (7, 4)
    with pytest.raises(ValueError, match="output_dim"):
        AugmentedNeuralODE(1, 0, output_dim=2)
    with pytest.raises(ValueError, match="augment_dim"):
        AugmentedNeuralODE(1, -1)
    with pytest.raises(ValueError, match="readout"):
        AugmentedNeuralODE(1, 1, readout="softmax")
    with pytest.raises(ValueError, match="shape"):
        model(torch.randn(7, 3))


def test_augmented_neural_ode_can_represent_the_reflection():
    # the rotation by pi in the augmented plane maps (x, 0) to (-x, 0): set the field to it
    model = AugmentedNeuralODE(1, 1, hidden=2, method="dopri5", rtol=1e-10, atol=1e-10).double()
    first, last = model.block.func.layers
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        # f(h) = W2 tanh(W1 h) with tanh ≈ identity for tiny W1: scale up W2 instead
        first.weight.copy_(1e-4 * torch.eye(2, dtype=DTYPE))
        last.weight.copy_(1e4 * torch.pi * torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=DTYPE))
    x = torch.linspace(-1.0, 1.0, 9, dtype=DTYPE)[:, None]
    assert torch.allclose(model(x), -x, atol=1e-6)
