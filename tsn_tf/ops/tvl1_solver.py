"""One pyramid level of TV-L1 (`procOneScale`) for a batch, each pair converging on its own.

The float32 arithmetic of one iteration follows opencv_contrib
`modules/optflow/src/tvl1flow.cpp` (`estimateV`, `estimateU`, `estimateDualVariables`),
which the CUDA kernels (`cudaoptflow/src/cuda/tvl1flow.cu`, OpenCV 2.4
`gpu/src/cuda/tvl1flow.cu`) repeat in one fused kernel with the same operation order.
Iteration schedules:
  * "cpu": per warp, up to `outer` rounds of [5x5 median of u1, u2; up to `inner`
    iterations], all while the warp's error (sum |du|^2, every iteration) exceeds
    eps^2 * H * W.
  * "gpu": per warp, up to `iterations`; the error is summed only on odd iterations
    when the last sum, reduced by eps^2 * H * W per iteration since, is below it.
A pair whose criterion is met stops: its updates are masked while others go on, so
its flow does not depend on the rest of the batch.
"""
import collections

import tensorflow as tf

from tsn_tf.ops import tvl1_grad
from tsn_tf.ops import tvl1_median
from tsn_tf.ops.tvl1_float import f32

FLT_EPSILON = 1.1920928955078125e-07
FLT_MAX = 3.4028234663852886e38

# outer / inner: the "cpu" schedule's rounds; iterations: the "gpu" schedule's (None: unused)
Params = collections.namedtuple(
    "Params", "tau lambda_ theta epsilon warps schedule hypot64 outer inner iterations",
    defaults=(None, None, None))


def _hypot(x, y, hypot64):
    """|(x, y)|; hypot64 rounds the exact double result once, like glibc's hypotf."""
    if hypot64:
        x64, y64 = tf.cast(x, tf.float64), tf.cast(y, tf.float64)
        return tf.cast(tf.sqrt(x64 * x64 + y64 * y64), tf.float32)
    return tf.sqrt(x * x + y * y)


def _step(u1, u2, p, data, consts, hypot64):
    """One primal-dual iteration; returns (u1, u2, p, per-pair error)."""
    I1wx, I1wy, grad, neg_rho_c = data
    l_t, theta, taut = consts
    # OpenCV's rho_c + (a + b), as a Sub that Grappler keeps (see tvl1_float).
    rho = (I1wx * u1 + I1wy * u2) - neg_rho_c
    lt_grad = l_t * grad
    fi = -rho / grad
    low, high = rho < -lt_grad, rho > lt_grad
    textured = grad > FLT_EPSILON

    def shift(i1w):
        inside = tf.where(textured, fi * i1w, tf.zeros_like(i1w))
        return tf.where(low, l_t * i1w, tf.where(high, -l_t * i1w, inside))

    v1, v2 = u1 + shift(I1wx), u2 + shift(I1wy)
    p11, p12, p21, p22 = p
    new_u1 = v1 - (-theta) * tvl1_grad.divergence(p11, p12)     # v1 + theta div (exact)
    new_u2 = v2 - (-theta) * tvl1_grad.divergence(p21, p22)
    du1, du2 = new_u1 - u1, new_u2 - u2
    error = tf.reduce_sum(du1 * du1 + du2 * du2, axis=[1, 2])
    u1x, u1y = tvl1_grad.forward_gradient(new_u1)
    u2x, u2y = tvl1_grad.forward_gradient(new_u2)
    ng1 = 1.0 + taut * _hypot(u1x, u1y, hypot64)
    ng2 = 1.0 + taut * _hypot(u2x, u2y, hypot64)
    new_p = ((p11 + taut * u1x) / ng1, (p12 + taut * u1y) / ng1,
             (p21 + taut * u2x) / ng2, (p22 + taut * u2y) / ng2)
    return new_u1, new_u2, new_p, error


def _masked(active, new, old):
    """Per pair: the new field where the pair is active, else the old one."""
    return tf.where(active[:, None, None], new, old)


def _iterate_cpu(u1, u2, p, data, consts, threshold, params):
    """Outer rounds (median first) of inner iterations, error checked every iteration."""
    error = tf.fill([tf.shape(u1)[0]], tf.constant(FLT_MAX, tf.float32))

    def inner_body(n, u1, u2, p, error):
        active = error > threshold
        new_u1, new_u2, new_p, new_error = _step(u1, u2, p, data, consts, params.hypot64)
        return (n + 1, _masked(active, new_u1, u1), _masked(active, new_u2, u2),
                tuple(_masked(active, a, b) for a, b in zip(new_p, p)),
                tf.where(active, new_error, error))

    def inner_cond(n, u1, u2, p, error):
        return (n < params.inner) & tf.reduce_any(error > threshold)

    def outer_body(k, u1, u2, p, error):
        active = error > threshold
        u1 = _masked(active, tvl1_median.median5x5(u1), u1)
        u2 = _masked(active, tvl1_median.median5x5(u2), u2)
        _, u1, u2, p, error = tf.while_loop(inner_cond, inner_body, (0, u1, u2, p, error))
        return k + 1, u1, u2, p, error

    def outer_cond(k, u1, u2, p, error):
        return (k < params.outer) & tf.reduce_any(error > threshold)

    _, u1, u2, p, _ = tf.while_loop(outer_cond, outer_body, (0, u1, u2, p, error))
    return u1, u2, p


def _iterate_gpu(u1, u2, p, data, consts, threshold, params):
    """Up to `iterations`; error summed on odd n once the decayed last sum is below eps."""
    batch = tf.shape(u1)[0]
    error = tf.fill([batch], tf.constant(FLT_MAX, tf.float32))
    prev_error = tf.zeros([batch], tf.float32)

    def body(n, u1, u2, p, error, prev_error):
        active = error > threshold
        calc = (n % 2 == 1) & (prev_error < threshold)
        new_u1, new_u2, new_p, new_error = _step(u1, u2, p, data, consts, params.hypot64)
        next_error = tf.where(calc, new_error, FLT_MAX)  # keeps a static batch size
        next_prev = tf.where(calc, new_error, prev_error - threshold)
        return (n + 1, _masked(active, new_u1, u1), _masked(active, new_u2, u2),
                tuple(_masked(active, a, b) for a, b in zip(new_p, p)),
                tf.where(active, next_error, error), tf.where(active, next_prev, prev_error))

    def cond(n, u1, u2, p, error, prev_error):
        return (n < params.iterations) & tf.reduce_any(error > threshold)

    _, u1, u2, p, _, _ = tf.while_loop(cond, body, (0, u1, u2, p, error, prev_error))
    return u1, u2, p


def solve_level(I0, I1, u1, u2, params, warp):
    """Refine (u1, u2) at one level: `warps` warps, dual variables reset once per level.

    `warp(images (B, H, W, 3), u1, u2)` samples I1 and its gradients at x + u.
    """
    height, width = I0.shape[1], I0.shape[2]
    threshold = tf.constant(f32(params.epsilon * params.epsilon * height * width), tf.float32)
    consts = (f32(params.lambda_ * params.theta), f32(params.theta),
              f32(params.tau / params.theta))
    I1x, I1y = tvl1_grad.centred_gradient(I1)
    sources = tf.stack([I1, I1x, I1y], axis=-1)
    iterate = _iterate_cpu if params.schedule == "cpu" else _iterate_gpu

    def warp_body(w, u1, u2, p):
        warped = warp(sources, u1, u2)
        I1w, I1wx, I1wy = warped[..., 0], warped[..., 1], warped[..., 2]
        grad = I1wx * I1wx + I1wy * I1wy
        neg_rho_c = I0 - ((I1w - I1wx * u1) - I1wy * u2)     # exactly -rho_c
        u1, u2, p = iterate(u1, u2, p, (I1wx, I1wy, grad, neg_rho_c), consts, threshold,
                            params)
        return w + 1, u1, u2, p

    p = tuple(tf.zeros_like(I0) for _ in range(4))
    _, u1, u2, _ = tf.while_loop(lambda w, *_: w < params.warps, warp_body, (0, u1, u2, p))
    return u1, u2
