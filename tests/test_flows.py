"""course_utils.models.flows: every layer is invertible to round-off, its cheap
log-determinant equals log|det| of the autograd Jacobian, and every flow's density
integrates to 1 on a grid."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from course_utils.models import flows

DTYPE = torch.float64


def _randomise(module, scale=0.5, seed=0):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(scale * torch.randn(parameter.shape, generator=generator,
                                                dtype=parameter.dtype))
    return module


def _knots(dim, seed=0):
    generator = torch.Generator().manual_seed(seed)
    steps_in = torch.rand(12, dim, generator=generator, dtype=DTYPE) + 0.05
    steps_out = torch.rand(12, dim, generator=generator, dtype=DTYPE) + 0.05
    return torch.cumsum(steps_in, 0) - 3.0, torch.cumsum(steps_out, 0) - 3.5


def _rotation(dim, seed=0):
    generator = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=generator, dtype=DTYPE))
    return q


def make_layer(kind, dim, seed=0):
    torch.manual_seed(seed)
    if kind == "planar":
        layer = _randomise(flows.PlanarFlow(dim), 1.0, seed)
    elif kind == "planar_wu_below_-1":
        layer = flows.PlanarFlow(dim)
        with torch.no_grad():
            w = torch.randn(dim, dtype=DTYPE)
            layer.params.copy_(torch.cat([w, -3.0 * w / (w @ w), torch.tensor([0.2])]))
    elif kind == "radial":
        layer = _randomise(flows.RadialFlow(dim), 1.0, seed)
    elif kind == "radial_contracting":
        layer = flows.RadialFlow(dim)
        with torch.no_grad():
            layer.params[dim:] = torch.tensor([0.5, -6.0])    # β close to -α
    elif kind == "coupling":
        mask = [float(i % 2 == 0) for i in range(dim)]
        layer = _randomise(flows.AffineCoupling(mask, hidden=16), 0.5, seed)
    elif kind == "elementwise":
        layer = _randomise(flows.ElementwiseAffine(dim), 0.5, seed)
    elif kind == "rotation":
        layer = flows.Rotation(_rotation(dim, seed))
    elif kind == "piecewise":
        layer = flows.MonotonePiecewiseLinear(*_knots(dim, seed))
    else:  # pragma: no cover
        raise ValueError(kind)
    return layer.to(DTYPE)


KINDS = ["planar", "planar_wu_below_-1", "radial", "radial_contracting", "coupling",
         "elementwise", "rotation", "piecewise"]


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("kind", KINDS)
def test_layer_is_invertible_to_round_off(kind, dim):
    layer = make_layer(kind, dim)
    z = 2.0 * torch.randn(64, dim, dtype=DTYPE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        x, log_det = layer(z)
        z_back, log_det_back = layer.inverse(x)
    assert x.shape == z.shape and log_det.shape == (64,)
    assert torch.allclose(z_back, z, rtol=0, atol=1e-10 * (1 + z.abs().max()))
    assert torch.allclose(log_det_back, -log_det, atol=1e-10)


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("kind", KINDS)
def test_log_det_equals_autograd_jacobian(kind, dim):
    layer = make_layer(kind, dim, seed=2)
    z = 1.5 * torch.randn(16, dim, dtype=DTYPE, generator=torch.Generator().manual_seed(3))
    _, log_det = layer(z)
    reference = flows.jacobian_log_abs_det(lambda v: layer(v)[0], z)
    assert torch.allclose(log_det, reference, rtol=1e-9, atol=1e-9)
    x = layer(z)[0].detach()
    _, log_det_inverse = layer.inverse(x)
    reference = flows.jacobian_log_abs_det(lambda v: layer.inverse(v)[0], x)
    assert torch.allclose(log_det_inverse, reference, rtol=1e-8, atol=1e-8)


def test_jacobian_log_abs_det_of_a_linear_map_is_slogdet():
    matrix = torch.randn(5, 5, dtype=DTYPE, generator=torch.Generator().manual_seed(0))
    z = torch.randn(3, 5, dtype=DTYPE)
    values = flows.jacobian_log_abs_det(lambda v: v @ matrix.T, z)
    assert np.allclose(values.numpy(), np.linalg.slogdet(matrix.numpy())[1], atol=1e-12)
    with pytest.raises(ValueError, match="batch"):
        flows.jacobian_log_abs_det(lambda v: v, torch.zeros(5))


def test_planar_constraint_holds_for_any_parameters():
    for seed in range(20):
        layer = _randomise(flows.PlanarFlow(3).to(DTYPE), 3.0, seed)
        w, u = layer.w.detach(), layer.u.detach()
        u_hat = layer.u_hat().detach()
        assert float(w @ u_hat) > -1.0
        # the correction moves u along w only, to w·û = m(w·u) = -1 + softplus(w·u)
        assert float(w @ u_hat) == pytest.approx(-1 + math.log1p(math.exp(float(w @ u))))
        correction = u_hat - u
        assert torch.allclose(correction - (correction @ w) / (w @ w) * w,
                              torch.zeros(3, dtype=DTYPE), atol=1e-12)


def test_planar_inverse_has_exact_gradients():
    layer = make_layer("planar", 2, seed=4)
    x = torch.randn(5, 2, dtype=DTYPE, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: layer.inverse(v)[0], (x,))
    # and with respect to the parameters: compare with finite differences
    z = layer.inverse(x.detach())[0].sum()
    z.backward()
    grad = layer.params.grad.clone()
    step = 1e-6
    for index in range(len(layer.params)):
        with torch.no_grad():
            layer.params[index] += step
            plus = layer.inverse(x.detach())[0].sum()
            layer.params[index] -= 2 * step
            minus = layer.inverse(x.detach())[0].sum()
            layer.params[index] += step
        assert float(grad[index]) == pytest.approx(float(plus - minus) / (2 * step), abs=1e-6)


def test_radial_constraint_holds():
    for seed in range(10):
        layer = _randomise(flows.RadialFlow(2).to(DTYPE), 4.0, seed)
        alpha, beta = (value.detach() for value in layer.alpha_beta())
        assert float(alpha) > 0 and float(beta) >= -float(alpha)


def test_standard_normal_matches_scipy():
    base = flows.StandardNormal(3).to(DTYPE)
    z = base.sample(10, torch.Generator().manual_seed(0))
    assert z.shape == (10, 3) and z.dtype == DTYPE
    truth = stats.multivariate_normal(np.zeros(3), np.eye(3)).logpdf(z.numpy())
    assert np.allclose(base.log_prob(z).numpy(), truth)
    with pytest.raises(ValueError, match=r"\(batch, 3\)"):
        base.log_prob(torch.zeros(3))


def _grid(limit=7.0, num_points=281):
    axis = torch.linspace(-limit, limit, num_points, dtype=DTYPE)
    xx, yy = torch.meshgrid(axis, axis, indexing="xy")
    return torch.stack([xx.ravel(), yy.ravel()], dim=1), float(axis[1] - axis[0]) ** 2


def _build(kind):
    torch.manual_seed(5)
    if kind == "planar":
        flow = flows.planar_flow(2, 6)
    elif kind == "radial":
        flow = flows.radial_flow(2, 6)
    else:
        flow = flows.realnvp_flow(2, 4, hidden=16)
    # keep the random maps moderate so that (nearly) all the mass stays on the grid
    return _randomise(flow.to(DTYPE), 0.2 if kind == "realnvp" else 0.4, 6)


@pytest.mark.parametrize("kind", ["planar", "radial", "realnvp"])
def test_flow_density_integrates_to_one(kind):
    flow = _build(kind)
    points, area = _grid()
    with torch.no_grad():
        mass = float(torch.exp(flow.log_prob(points)).sum()) * area
    assert mass == pytest.approx(1.0, abs=2e-3)


@pytest.mark.parametrize("kind", ["planar", "radial", "realnvp"])
def test_sample_with_log_prob_agrees_with_log_prob(kind):
    flow = _build(kind)
    with torch.no_grad():
        x, log_q = flow.sample_with_log_prob(100, torch.Generator().manual_seed(0))
        assert x.shape == (100, 2) and log_q.shape == (100,)
        assert torch.allclose(flow.log_prob(x), log_q, atol=1e-9)
        states = flow.trajectory(torch.zeros(4, 2, dtype=DTYPE))
    assert len(states) == len(flow.layers) + 1
    assert torch.allclose(states[-1], flow(torch.zeros(4, 2, dtype=DTYPE))[0])


def test_reverse_kl_loss_matches_the_closed_form_gaussian_kl():
    layer = flows.ElementwiseAffine(2).to(DTYPE)
    with torch.no_grad():
        layer.log_scale.copy_(torch.tensor([0.3, -0.2]))
        layer.shift.copy_(torch.tensor([1.0, -0.5]))
    flow = flows.NormalizingFlow(flows.StandardNormal(2).to(DTYPE), [layer])
    mean = torch.tensor([0.2, 0.4], dtype=DTYPE)
    energy = lambda x: 0.5 * ((x - mean) ** 2).sum(dim=1)        # log Z = log 2π
    variance = torch.exp(2 * layer.log_scale.detach())
    kl = 0.5 * float((variance + (layer.shift.detach() - mean) ** 2 - 1
                      - torch.log(variance)).sum())
    loss = flows.reverse_kl_loss(flow, energy, 200_000, torch.Generator().manual_seed(0))
    assert float(loss.detach()) + math.log(2 * math.pi) == pytest.approx(kl, abs=0.01)


def test_negative_log_likelihood_of_the_base_is_its_entropy():
    flow = flows.NormalizingFlow(flows.StandardNormal(2).to(DTYPE), [])
    x = torch.randn(200_000, 2, dtype=DTYPE, generator=torch.Generator().manual_seed(0))
    entropy = 1 + math.log(2 * math.pi)                          # of N(0, I) in 2-D
    assert float(flows.negative_log_likelihood(flow, x)) == pytest.approx(entropy, abs=0.01)


def test_realnvp_starts_at_the_identity_and_learns():
    torch.manual_seed(0)
    flow = flows.realnvp_flow(2, 4, hidden=16).to(DTYPE)
    z = torch.randn(10, 2, dtype=DTYPE)
    assert torch.equal(flow(z)[0], z)
    data = torch.randn(512, 2, dtype=DTYPE) * torch.tensor([2.0, 0.5]) + 1.0
    optimizer = torch.optim.Adam(flow.parameters(), lr=1e-2)
    start = float(flows.negative_log_likelihood(flow, data).detach())
    for _ in range(150):
        optimizer.zero_grad()
        loss = flows.negative_log_likelihood(flow, data)
        loss.backward()
        optimizer.step()
    entropy = 0.5 * math.log(np.linalg.det(2 * math.pi * math.e * np.diag([4.0, 0.25])))
    assert start > entropy + 1.0 and float(loss.detach()) < entropy + 0.1


def test_layers_reject_bad_arguments():
    with pytest.raises(ValueError, match="0s and 1s"):
        flows.AffineCoupling([1.0, 0.5])
    with pytest.raises(ValueError, match="change others"):
        flows.AffineCoupling([1.0, 1.0])
    with pytest.raises(ValueError, match="orthogonal"):
        flows.Rotation(torch.ones(2, 2))
    with pytest.raises(ValueError, match="increase strictly"):
        flows.MonotonePiecewiseLinear(torch.zeros(3, 1), torch.arange(3.0)[:, None])
    with pytest.raises(ValueError, match=r"\(batch, 2\)"):
        flows.PlanarFlow(2)(torch.zeros(5, 3))
    with pytest.raises(ValueError, match="dim"):
        flows.realnvp_flow(1, 2)


def test_kde_gaussianize_matches_scipy():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(200, 2)) * np.array([1.0, 0.5]) + np.array([0.0, 1.0])
    bandwidths = np.array([0.3, 0.2])
    points = rng.normal(size=(30, 2)) * 2.0
    values = flows.kde_gaussianize(torch.as_tensor(points), torch.as_tensor(centres),
                                   torch.as_tensor(bandwidths)).numpy()
    for j in range(2):
        kde = stats.gaussian_kde(centres[:, j], bw_method=bandwidths[j] / centres[:, j].std(
            ddof=1))
        cdf = np.array([kde.integrate_box_1d(-np.inf, p) for p in points[:, j]])
        resolved = (cdf > 1e-9) & (cdf < 1 - 1e-9)     # where scipy's 1 - F is accurate
        assert resolved.sum() > 20
        assert np.allclose(values[resolved, j], stats.norm.ppf(cdf[resolved]), atol=1e-6)
    # far from the centres it stays finite and ordered
    far = flows.kde_gaussianize(torch.tensor([[-40.0], [-30.0], [30.0], [40.0]], dtype=DTYPE),
                                torch.zeros(5, 1, dtype=DTYPE), torch.ones(1, dtype=DTYPE))
    assert torch.all(torch.isfinite(far)) and torch.all(far.diff(dim=0) > 0)


def test_fit_gaussianization_ascends_and_gaussianises():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1200, 2))
    x[:, 1] = x[:, 1] * 0.3 + 0.5 * x[:, 0] ** 2                # a banana
    result = flows.fit_gaussianization(x[:800], x[800:], num_steps=15, seed=1)
    train = np.array(result.train_log_likelihood)
    assert len(train) == 16 and len(result.test_log_likelihood) == 16
    assert np.all(np.diff(train) >= -1e-12)                     # monotone ascent
    assert result.test_log_likelihood[-1] > result.test_log_likelihood[0] + 0.5
    latent = result.latents[-1].numpy()
    assert np.allclose(latent.mean(axis=0), 0, atol=0.1)
    assert np.allclose(np.cov(latent.T), np.eye(2), atol=0.15)
    # the flow reproduces the tracked log-likelihood and is invertible
    data = torch.as_tensor(x[:800])
    with torch.no_grad():
        assert float(result.flow.log_prob(data).mean()) == pytest.approx(train[-1])
        z, _ = result.flow.inverse(data)
        assert torch.allclose(z, result.latents[-1])
        assert torch.allclose(result.flow(z)[0], data, atol=1e-10)
    assert result.steps.shape == (15, 2)
    with pytest.raises(ValueError, match="max_step"):
        flows.fit_gaussianization(x, max_step=1.5)
