"""course_utils.models.resnet and .reversible: shapes, the ODE view, depth surgery,
reversibility to round-off and the memory that reconstruction saves."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from course_utils import models, plotting
from course_utils.models.resnet import MLPBlock

DIM, WIDTH = 2, 5


@pytest.fixture(autouse=True)
def float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def test_mlp_resnet_shapes_and_lift():
    model = models.mlp_resnet(2, 3, dim=2, width=4, num_blocks=6, final_time=1.5, seed=0)
    x = torch.randn(7, 2)
    assert model(x).shape == (7, 3)
    assert model.trajectory(x).shape == (7, 7, 2)
    assert model.num_blocks == 6 and model.step_size == pytest.approx(0.25)
    assert model.final_time == pytest.approx(1.5)
    assert isinstance(model.lift, torch.nn.Identity)
    lifted = models.mlp_resnet(5, 2, dim=3, num_blocks=2, seed=0)
    assert lifted.trajectory(torch.randn(4, 5)).shape == (3, 4, 3)


def test_conv_resnet_shapes():
    model = models.conv_resnet(10, channels=4, num_blocks=3, seed=0)
    x = torch.rand(5, 1, 8, 8)
    assert model(x).shape == (5, 10)
    assert model.trajectory(x).shape == (4, 5, 4, 8, 8)


def test_zero_init_blocks_make_the_identity_and_appending_them_changes_nothing():
    model = models.mlp_resnet(dim=2, width=4, num_blocks=3, zero_init=True, seed=0)
    x = torch.randn(9, 2)
    assert torch.equal(model.features(x), x)
    with torch.no_grad():
        for block in model.blocks:
            block.outer.weight.normal_()
    deeper = models.append_identity_blocks(model, 4, lambda: MLPBlock(2, 4, zero_init=True))
    assert deeper.num_blocks == 7 and model.num_blocks == 3
    assert torch.equal(deeper(x), model(x))


def test_plain_net_has_no_skips():
    net = models.plain_net(2, 2, dim=4, num_layers=3, seed=0)
    x = torch.randn(5, 2)
    h = net.lift(x)
    for layer in net.blocks:
        h = layer(h)
    assert torch.equal(net(x), net.head(h)) and net.num_blocks == 3


def test_resnet_is_forward_euler_on_its_vector_field():
    model = models.mlp_resnet(dim=2, width=4, num_blocks=5, final_time=2.0, zero_init=False,
                              seed=1)
    x = torch.randn(6, 2)
    state = x
    for k in range(5):
        t = k * model.step_size
        state = state + model.step_size * model.vector_field(t, state)
    assert torch.allclose(model.features(x), state, atol=1e-14)
    assert model.block_index(-1.0) == 0 and model.block_index(99.0) == 4
    assert model.block_index(model.step_size * 2.5) == 2


def _smooth_parameters(t):
    """θ(t) of an MLP residual function, smooth in t (NumPy arrays)."""
    w1 = np.array([[1.0, -0.5], [0.3, 0.8], [-0.7, 0.2], [0.4, 0.4], [0.1, -1.0]])
    w2 = np.array([[0.5, -1.0, 0.3, 0.2, -0.4], [0.9, 0.1, -0.6, 0.5, 0.3]])
    return (w1 * np.cos(t), 0.2 * np.sin(2 * t) * np.ones(WIDTH), w2 * (1 + 0.5 * t),
            np.array([0.1, -0.2]) * t)


def _field(t, x):
    w1, b1, w2, b2 = _smooth_parameters(t)
    return w2 @ np.tanh(w1 @ x + b1) + b2


def _resnet_sampling(num_blocks, final_time, scheme="euler"):
    """A ResNet whose block k holds θ(t_k): a discretisation of dx/dt = f(x, θ(t))."""
    step = final_time / num_blocks
    blocks = []
    for k in range(num_blocks):
        block = MLPBlock(DIM, WIDTH, zero_init=False)
        w1, b1, w2, b2 = (torch.tensor(a) for a in _smooth_parameters(k * step))
        with torch.no_grad():
            block.inner.weight.copy_(w1)
            block.inner.bias.copy_(b1)
            block.outer.weight.copy_(w2)
            block.outer.bias.copy_(b2)
        blocks.append(block)
    return models.ResNet(blocks, step, scheme=scheme)


def test_resnet_converges_to_the_ode_solution_as_h_goes_to_zero():
    final_time = 1.5
    x0 = np.array([[0.7, -0.4], [-1.0, 0.5], [0.2, 0.9]])
    exact = np.stack([
        solve_ivp(_field, (0.0, final_time), point, method="DOP853", rtol=1e-12,
                  atol=1e-12).y[:, -1]
        for point in x0
    ])
    errors = []
    for num_blocks in (20, 40, 80, 160):
        model = _resnet_sampling(num_blocks, final_time)
        with torch.no_grad():
            out = model.features(torch.tensor(x0)).numpy()
        errors.append(np.abs(out - exact).max())
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    assert errors[-1] < 0.01
    assert np.all((1.8 < ratios) & (ratios < 2.2)), ratios  # first order: forward Euler


def test_midpoint_scheme_is_second_order_on_an_autonomous_field():
    block = MLPBlock(DIM, WIDTH, zero_init=False)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in block.parameters():
            p.normal_()
    weights = [p.detach().numpy() for p in (block.inner.weight, block.inner.bias,
                                            block.outer.weight, block.outer.bias)]
    field = lambda t, x: weights[2] @ np.tanh(weights[0] @ x + weights[1]) + weights[3]
    x0 = np.array([0.3, -0.6])
    exact = solve_ivp(field, (0.0, 1.0), x0, method="DOP853", rtol=1e-13, atol=1e-13).y[:, -1]
    errors = []
    for num_blocks in (16, 32, 64):
        model = models.ResNet([block] * num_blocks, 1.0 / num_blocks, scheme="midpoint")
        with torch.no_grad():
            errors.append(np.abs(model.features(torch.tensor(x0[None]))[0].numpy() - exact).max())
    assert 3.6 < errors[0] / errors[1] < 4.4 and 3.6 < errors[1] / errors[2] < 4.4


def test_ode_flow_solves_the_piecewise_constant_field():
    model = models.mlp_resnet(dim=2, width=4, num_blocks=3, final_time=1.2, zero_init=False,
                              seed=2)
    x0 = torch.randn(4, 2)
    with torch.no_grad():
        flow = model.ode_flow(x0, substeps=40, return_trajectory=True)
    assert flow.shape == (4, 4, 2)
    reference = x0.numpy().copy()
    for k in range(3):
        def rhs(t, y, k=k):
            with torch.no_grad():
                state = torch.tensor(y.reshape(4, 2))
                return model.blocks[k](state).numpy().ravel()

        reference = solve_ivp(rhs, (0.0, model.step_size), reference.ravel(), method="DOP853",
                              rtol=1e-12, atol=1e-12).y[:, -1].reshape(4, 2)
        assert np.allclose(flow[k + 1].numpy(), reference, atol=1e-9)


@pytest.mark.parametrize("mode", ["copy", "linear"])
def test_refine_depth_halves_the_step_and_keeps_the_function_close(mode):
    model = models.mlp_resnet(dim=2, width=4, num_blocks=4, final_time=1.0, zero_init=False,
                              seed=3)
    finer = models.refine_depth(model, mode=mode)
    assert finer.num_blocks == 8 and finer.step_size == pytest.approx(0.125)
    assert finer.final_time == pytest.approx(model.final_time) and model.num_blocks == 4
    x = torch.randn(5, 2)
    with torch.no_grad():
        assert torch.equal(finer.blocks[0](x), model.blocks[0](x))
        if mode == "copy":
            for t in np.linspace(0.0, 0.99, 13):
                assert torch.equal(finer.vector_field(t, x), model.vector_field(t, x))
            exact = model.ode_flow(x)
            gap = (model.features(x) - exact).abs().max()
            assert (finer.features(x) - exact).abs().max() < 0.6 * gap
        else:
            mean = 0.5 * (model.blocks[0].inner.weight + model.blocks[1].inner.weight)
            assert torch.allclose(finer.blocks[1].inner.weight, mean)
            assert torch.equal(finer.blocks[7].inner.weight, model.blocks[3].inner.weight)
    with pytest.raises(ValueError, match="mode"):
        models.refine_depth(model, mode="cubic")


def test_drop_block():
    model = models.mlp_resnet(dim=2, num_blocks=4, zero_init=False, seed=4)
    lesioned = models.drop_block(model, 1)
    assert lesioned.num_blocks == 3 and model.num_blocks == 4
    assert lesioned.step_size == model.step_size
    x = torch.randn(3, 2)
    with torch.no_grad():
        assert torch.equal(lesioned.blocks[1](x), model.blocks[2](x))
    assert models.drop_block(model, -1).num_blocks == 3
    with pytest.raises(ValueError, match="out of range"):
        models.drop_block(model, 4)


def test_bad_arguments_say_what_to_do():
    with pytest.raises(ValueError, match="scheme"):
        models.ResNet([], 0.1, scheme="rk4")
    with pytest.raises(ValueError, match="step_size"):
        models.ResNet([], 0.0)
    with pytest.raises(ValueError, match="block"):
        models.mlp_resnet(block="dense")
    with pytest.raises(ValueError, match="num_blocks"):
        models.mlp_resnet(num_blocks=0)
    with pytest.raises(ValueError, match="gamma"):
        models.AntisymmetricBlock(3, gamma=-1.0)


def test_antisymmetric_block_spectrum():
    block = models.AntisymmetricBlock(6, gamma=0.25)
    eigenvalues = torch.linalg.eigvals(block.matrix().detach())
    assert torch.allclose(eigenvalues.real, torch.full((6,), -0.25), atol=1e-12)
    assert block(torch.randn(4, 6)).shape == (4, 6)


def test_coupling_and_hamiltonian_blocks_are_invertible_to_round_off():
    torch.manual_seed(0)
    coupling = models.AdditiveCoupling(torch.nn.Linear(3, 3), torch.nn.Tanh())
    x = torch.randn(8, 6)
    with torch.no_grad():
        assert (coupling.inverse(coupling(x)) - x).abs().max() < 1e-14
    blocks = [models.HamiltonianBlock(3, 8, step_size=0.1) for _ in range(50)]
    net = models.ReversibleNet(blocks)
    with torch.no_grad():
        final = net.features(x)
    assert (final - x).abs().max() > 0.1  # the blocks do something
    assert (net.reconstruct(final) - x).abs().max() < 1e-12
    assert net.trajectory(x).shape == (51, 8, 6)


def test_hamiltonian_dynamics_have_imaginary_eigenvalues():
    block = models.HamiltonianBlock(2, 5, step_size=0.1)
    state = torch.randn(4)

    def rhs(v):  # the ODE the block discretises: (F(z), G(y)) / h
        y, z = v[:2], v[2:]
        return torch.cat([block.F(z[None])[0], block.G(y[None])[0]]) / block.step_size

    jacobian = torch.autograd.functional.jacobian(rhs, state)
    assert torch.linalg.eigvals(jacobian).real.abs().max() < 1e-10


def _reversible_net(num_blocks, memory_saving):
    torch.manual_seed(1)
    blocks = [models.HamiltonianBlock(2, 6, step_size=0.2) for _ in range(num_blocks)]
    return models.ReversibleNet(blocks, lift=torch.nn.Linear(3, 4), head=torch.nn.Linear(4, 2),
                                memory_saving=memory_saving)


def test_memory_saving_backward_gives_the_ordinary_gradients():
    x = torch.randn(10, 3, requires_grad=True)
    grads = []
    for memory_saving in (True, False):
        net = _reversible_net(12, memory_saving)
        x.grad = None
        net(x).square().sum().backward()
        grads.append([x.grad.clone()] + [p.grad.clone() for p in net.parameters()])
    for saving, ordinary in zip(*grads):
        assert torch.allclose(saving, ordinary, rtol=1e-10, atol=1e-12)


def test_memory_saving_keeps_activation_memory_independent_of_depth():
    x = torch.randn(32, 3)
    saved = {}
    for memory_saving in (True, False):
        for depth in (4, 16):
            net = _reversible_net(depth, memory_saving)
            _, saved[memory_saving, depth] = models.saved_tensor_bytes(
                lambda net=net: net(x).sum(), net.parameters())
    assert saved[True, 4] == saved[True, 16]
    assert saved[False, 16] > 3 * saved[False, 4] > 3 * saved[True, 4]


def test_saved_tensor_bytes_counts_a_tensor_once_and_excludes_parameters():
    weight = torch.randn(5, 5, requires_grad=True)
    x = torch.randn(3, 5)
    _, num_bytes = models.saved_tensor_bytes(lambda: (x @ weight).sum(), [weight])
    assert num_bytes == x.numel() * x.element_size()


def test_plots_draw():
    import matplotlib.pyplot as plt

    model = models.mlp_resnet(dim=2, num_blocks=4, zero_init=False, seed=0)
    x = torch.randn(20, 2)
    labels = np.arange(20) % 2
    with torch.no_grad():
        trajectory = model.trajectory(x)
    fig, axes = plt.subplots(1, 5)
    plotting.plot_hidden_trajectories(axes[0], trajectory, labels)
    plotting.plot_depth_snapshots(axes[1:3], trajectory, labels, [0, 4], step_size=0.25)
    plotting.plot_decision_regions(
        axes[3], lambda p: model(torch.as_tensor(p)).argmax(1), x, labels, num_points=10)
    plotting.plot_spectrum(axes[4], np.array([-1 + 1j, -0.5]), step_size=0.5, label="λ")
    assert axes[4].collections and axes[4].patches
    plt.close(fig)
