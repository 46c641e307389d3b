"""NumPy reference transcriptions of two GPU TV-L1 optical-flow variants.

``tsn_tvl1``       OpenCV 2.4.13 ``cv::gpu::OpticalFlowDual_TVL1_GPU`` as TSN's
                   dense_flow ran it (``extract_gpu -t 1``).
``denseflow_tvl1`` OpenCV 4.x ``cv::cuda::OpticalFlowDual_TVL1`` as
                   open-mmlab/denseflow runs it (``denseflow -a tvl1``).

Written from the OpenCV sources only, as a test oracle for other
implementations: plain NumPy, float32 wherever the CUDA code computes in
``float``, one vectorised array expression per CUDA kernel, and a Python loop
over the iterations.  Every function names the source it transcribes.

Sources read (repository, path; commit where the stored copy had one):

OpenCV 2.4 (github opencv/opencv, 2.4 branch; the ``gpu`` module)
  - modules/gpu/src/tvl1flow.cpp (dc1eb583b4caeb8fb3328d55c431a70ce9a76d3b):
    constructor defaults, ``operator()`` (pyramid, upsampling), ``procOneScale``
  - modules/gpu/src/cuda/tvl1flow.cu (e8baa6976293d273bdab97841a3dd1c1e2dbc2be):
    ``centeredGradientKernel``, ``bicubicCoeff``, ``warpBackwardKernel``,
    ``divergence``, ``estimateUKernel``, ``estimateDualVariablesKernel``
  - modules/gpu/src/pyramids.cpp (69020da607026ac9431f5c8e4e0af3a19ad18420)
    and modules/gpu/src/cuda/pyr_down.cu (2.4.x ``pyrDown`` kernel with
    ``BrdReflect101``): ``gpu::pyrDown``
  - modules/gpu/src/resize.cpp (d192117e866b80ba7c4418391ba767d45baa9f28),
    modules/gpu/src/cuda/resize.cu (8525fb0776e02fee1fc6d9809203e2f8d9aafeb7),
    modules/gpu/include/opencv2/gpu/device/filters.hpp (``LinearFilter``),
    modules/gpu/include/opencv2/gpu.hpp (``resize`` default INTER_LINEAR)
  - modules/gpu/src/cuda/matrix_reductions.cu (2.4.9+; ``sum::SumType<float>``
    is ``float``, ``sum::kernel``, ``GlobalReduce``) and
    modules/gpu/include/opencv2/gpu/device/detail/reduce.hpp: ``gpu::sum``
  - github yjxiong/dense_flow, branch opencv-2.4 (c9369a3),
    src/dense_flow_gpu.cpp ``calcDenseFlowGPU``: how frames reach the GPU.

OpenCV 4 (github opencv/opencv_contrib; tag 4.3.0, the version denseflow's
INSTALL.md builds; the TV-L1 maths is unchanged up to 2a5154a4 (2026))
  - modules/cudaoptflow/src/tvl1flow.cpp: ``create`` defaults (in
    include/opencv2/cudaoptflow.hpp), ``calcImpl``, ``procOneScale``
  - modules/cudaoptflow/src/cuda/tvl1flow.cu: the same kernels as 2.4 plus the
    unused gamma terms; textures are point-sampled, clamp-addressed
  - modules/cudawarping/src/resize.cpp, src/cuda/resize.cu (``resize_linear``,
    ``call_resize_linear_glob``/``_tex``): ``cuda::resize``
  - modules/cudaarithm/src/reductions.cpp / src/cuda/sum.cu: ``calcSum`` of
    a float image accumulates in double
  - github open-mmlab/denseflow (da2cc5ea), src/denseflow_gpu.cpp
    ``calc_optflows_imp`` (``OpticalFlowDual_TVL1::create()`` with no
    arguments, a non-default ``cuda::Stream``), ``load_frames_batch``.

How the frames reach the GPU (not part of these functions; for callers)
  - TSN dense_flow (2.4 branch): ``cv::resize(bgr, new_size)`` (INTER_LINEAR,
    on the colour frame, only when both -w and -h are > 0), then
    ``cvtColor(CV_BGR2GRAY)``; uint8 uploaded; flow is from the previous frame
    (I0) to the current one (I1).  Quantised with
    ``v > b ? 255 : v < -b ? 0 : cvRound(255*(v+b)/(2b))`` (TSN: -b 20).
  - denseflow: ``cvtColor(COLOR_BGR2GRAY)`` first, then ``cv::resize(gray,
    size)`` (INTER_LINEAR) when a new size or short side is asked; uint8;
    flow from frame i (I0) to frame i+step (I1); same quantisation with
    bound 32 by default (mmaction2 passes its own).

Both GPU versions take CV_8UC1 or CV_32FC1 and ``convertTo(CV_32F, 1.0)`` for
uint8 but ``convertTo(CV_32F, 255.0)`` for float: a float frame is taken to
be in 0..1 and is multiplied by 255.  These functions do the same (other
float dtypes are first cast to float32).  lambda and epsilon are not rescaled.

Ambiguities and choices (apply to both variants unless said)
  - nvcc contracts ``a*b + c`` into fused multiply-adds by default; which
    expressions it fuses is up to the compiler.  NumPy rounds every product
    and sum separately, so results may differ from a GPU in the last bits
    (and then more, through TV-L1's thresholds).  Order of operations is
    otherwise kept as written in the source (left to right).
  - CUDA ``hypotf`` is within 3 ulp; ``np.hypot`` (C ``hypotf``) is used.
  - ``gpu::sum`` (2.4) of a float image accumulates in float: per-thread
    strided tiles, a shuffle tree in each 32-lane warp, a tree over the 8
    warps, then one ``atomicAdd`` per block in an order the hardware decides.
    ``_gpu24_sum_float`` emulates this with blocks added in block-id order.
    ``cuda::calcSum`` (4.x) accumulates in double: ``np.sum`` in float64 is
    used (order differences are ~1e-16 relative).  The sum only decides when
    a warp stops, so these choices matter only when it lands within rounding
    of epsilon^2 * area.
  - ``warpBackward`` loops over the taps ``ceil(w-2) .. floor(w+2)`` (four, or
    five when w is an integer, the fifth with weight 0); here always five
    taps from ``ceil(w-2)``, those past ``floor(w+2)`` masked out, added in
    the kernel's row-major order.
  - The 2.4 pyramid kernel filters columns then rows in separate float sums
    (vertical pass first); kept in that order.
"""
import numpy as np

F = np.float32
FLT_EPSILON = F(np.finfo(np.float32).eps)

# Constants written into the CUDA sources (module level so that a test can
# show the tests notice a change).
BICUBIC_A = -0.5  # tvl1flow.cu bicubicCoeff: Keys kernel with a = -0.5
PYRDOWN_KERNEL = (0.0625, 0.25, 0.375, 0.25, 0.0625)  # pyr_down.cu

# Defaults of both GPU classes (2.4 constructor; 4.x create()).
TAU, LAMBDA, THETA = 0.25, 0.15, 0.3
NSCALES, WARPS, EPSILON, ITERATIONS = 5, 5, 0.01, 300
SCALE_STEP = 0.8  # 4.x only; 2.4 halves with pyrDown
MIN_SIZE = 16  # both stop building the pyramid below 16 px


# --------------------------------------------------------------------------
# input


def to_gpu_float(frame):
    """Grey frame as the GPU code holds it: float32, 0..255.

    tvl1flow.cpp (2.4 ``operator()``, 4.x ``calcImpl``):
    ``I0.convertTo(I0s[0], CV_32F, I0.depth() == CV_8U ? 1.0 : 255.0)``.
    uint8 is converted as is; float input is multiplied by 255.
    """
    frame = np.asarray(frame)
    if frame.ndim != 2:
        raise ValueError("expected a grey (H, W) frame, got shape %s" % (frame.shape,))
    if frame.dtype == np.uint8:
        return frame.astype(F)
    if np.issubdtype(frame.dtype, np.floating):
        return frame.astype(F) * F(255.0)
    raise TypeError("expected uint8 or float frames (CV_8UC1 / CV_32FC1), got %s" % frame.dtype)


# --------------------------------------------------------------------------
# kernels of tvl1flow.cu (identical in 2.4 gpu and 4.x cudaoptflow)


def centered_gradient(src):
    """``centeredGradientKernel``: half central differences, one-sided at borders.

    dx(y,x) = 0.5f * (src(y, min(x+1, W-1)) - src(y, max(x-1, 0))), dy alike.
    """
    h, w = src.shape
    right = src[:, np.minimum(np.arange(w) + 1, w - 1)]
    left = src[:, np.maximum(np.arange(w) - 1, 0)]
    below = src[np.minimum(np.arange(h) + 1, h - 1), :]
    above = src[np.maximum(np.arange(h) - 1, 0), :]
    return F(0.5) * (right - left), F(0.5) * (below - above)


def bicubic_coeff(x):
    """``bicubicCoeff``: Keys cubic with a = BICUBIC_A (-0.5 in the source).

    Source (a = -0.5 substituted):
      |x| <= 1: x * x * (1.5f * x - 2.5f) + 1.0f
      |x| <  2: x * (x * (-0.5f * x + 2.5f) - 4.0f) + 2.0f
      else 0.
    """
    a = BICUBIC_A
    c1, c2 = F(a + 2.0), F(a + 3.0)  # 1.5, 2.5
    d1, d2, d3, d4 = F(a), F(-5.0 * a), F(8.0 * a), F(-4.0 * a)  # -0.5, 2.5, -4, 2
    x = np.abs(np.asarray(x, F))
    near = x * x * (c1 * x - c2) + F(1.0)
    far = x * (x * (d1 * x + d2) + d3) + d4
    return np.where(x <= F(1.0), near, np.where(x < F(2.0), far, F(0.0))).astype(F)


def warp_backward(I0, I1, I1x, I1y, u1, u2):
    """``warpBackwardKernel``: bicubic warp of I1 and its gradient by (u1, u2).

    Taps ``ceil(w-2) .. floor(w+2)`` in x and y, weights
    ``bicubicCoeff(wx-cx) * bicubicCoeff(wy-cy)``, values read through a
    point-sampled, clamp-addressed texture (so taps outside the image take the
    border pixel), sums divided by the sum of the weights (``sum * (1/wsum)``).
    Returns I1w, I1wx, I1wy, grad = I1wx^2 + I1wy^2 and
    rho = I1w - I1wx*u1 - I1wy*u2 - I0.
    """
    h, w = I0.shape
    wx = np.arange(w, dtype=F)[None, :] + u1
    wy = np.arange(h, dtype=F)[:, None] + u2
    xmin = np.ceil(wx - F(2.0))
    xmax = np.floor(wx + F(2.0))
    ymin = np.ceil(wy - F(2.0))
    ymax = np.floor(wy + F(2.0))
    total = np.zeros((h, w), F)
    total_x = np.zeros((h, w), F)
    total_y = np.zeros((h, w), F)
    wsum = np.zeros((h, w), F)
    for ky in range(5):
        cy = ymin + F(ky)
        wgt_y = np.where(cy <= ymax, bicubic_coeff(wy - cy), F(0.0))
        iy = np.clip(cy, 0, h - 1).astype(np.intp)
        for kx in range(5):
            cx = xmin + F(kx)
            wgt_x = np.where(cx <= xmax, bicubic_coeff(wx - cx), F(0.0))
            ix = np.clip(cx, 0, w - 1).astype(np.intp)
            wgt = wgt_x * wgt_y
            total = total + wgt * I1[iy, ix]
            total_x = total_x + wgt * I1x[iy, ix]
            total_y = total_y + wgt * I1y[iy, ix]
            wsum = wsum + wgt
    coeff = F(1.0) / wsum
    I1w = total * coeff
    I1wx = total_x * coeff
    I1wy = total_y * coeff
    grad = I1wx * I1wx + I1wy * I1wy
    rho = I1w - I1wx * u1 - I1wy * u2 - I0
    return I1w, I1wx, I1wy, grad, rho


def divergence(v1, v2):
    """``divergence``: backward differences, zero outside the image.

    x>0, y>0: (v1(y,x) - v1(y,x-1)) + (v2(y,x) - v2(y-1,x))
    x=0, y>0: v1(y,0) + v2(y,0) - v2(y-1,0)
    y=0, x>0: v1(0,x) - v1(0,x-1) + v2(0,x)
    x=0, y=0: v1(0,0) + v2(0,0)
    (each evaluated left to right, as written).
    """
    out = np.empty_like(v1)
    out[1:, 1:] = (v1[1:, 1:] - v1[1:, :-1]) + (v2[1:, 1:] - v2[:-1, 1:])
    out[1:, 0] = v1[1:, 0] + v2[1:, 0] - v2[:-1, 0]
    out[0, 1:] = v1[0, 1:] - v1[0, :-1] + v2[0, 1:]
    out[0, 0] = v1[0, 0] + v2[0, 0]
    return out


def estimate_u(I1wx, I1wy, grad, rho_c, p11, p12, p21, p22, u1, u2, l_t, theta, calc_error):
    """``estimateUKernel`` with gamma = 0: thresholding step, then u = v + theta div p.

    rho = rho_c + (I1wx*u1 + I1wy*u2);
    d = l_t*I1w. if rho < -l_t*grad, -l_t*I1w. if rho > l_t*grad,
        (-rho/grad)*I1w. elif grad > FLT_EPSILON, else 0.
    Returns new u1, u2 and, if calc_error, (u1-u1new)^2 + (u2-u2new)^2 (else None).
    """
    l_t, theta = F(l_t), F(theta)
    rho = rho_c + (I1wx * u1 + I1wy * u2)
    lt_grad = l_t * grad
    below = rho < -lt_grad
    above = ~below & (rho > lt_grad)
    inside = ~below & ~above & (grad > FLT_EPSILON)
    fi = np.divide(-rho, grad, out=np.zeros_like(rho), where=inside)
    zero = F(0.0)
    d1 = np.where(below, l_t * I1wx, np.where(above, -l_t * I1wx, np.where(inside, fi * I1wx, zero)))
    d2 = np.where(below, l_t * I1wy, np.where(above, -l_t * I1wy, np.where(inside, fi * I1wy, zero)))
    v1 = u1 + d1
    v2 = u2 + d2
    u1_new = v1 + theta * divergence(p11, p12)
    u2_new = v2 + theta * divergence(p21, p22)
    error = None
    if calc_error:
        error = (u1 - u1_new) * (u1 - u1_new) + (u2 - u2_new) * (u2 - u2_new)
    return u1_new, u2_new, error


def estimate_dual_variables(u1, u2, p11, p12, p21, p22, taut):
    """``estimateDualVariablesKernel`` with gamma = 0.

    Forward differences, 0 in the last column / row;
    p = (p + taut * grad u) / (1 + taut * hypotf(grad u)).
    """
    taut = F(taut)

    def forward(u):
        ux = np.zeros_like(u)
        uy = np.zeros_like(u)
        ux[:, :-1] = u[:, 1:] - u[:, :-1]
        uy[:-1, :] = u[1:, :] - u[:-1, :]
        return ux, uy

    u1x, u1y = forward(u1)
    u2x, u2y = forward(u2)
    ng1 = F(1.0) + taut * np.hypot(u1x, u1y)
    ng2 = F(1.0) + taut * np.hypot(u2x, u2y)
    return ((p11 + taut * u1x) / ng1, (p12 + taut * u1y) / ng1,
            (p21 + taut * u2x) / ng2, (p22 + taut * u2y) / ng2)


# --------------------------------------------------------------------------
# sums deciding when a warp stops


def _gpu24_sum_float(a):
    """2.4 ``gpu::sum`` of a CV_32FC1 image (``sum::run<float,1>``, R = float).

    ``sum::getLaunchCfg``: block 32x8, grid (min(ceil(cols/256), 32),
    min(ceil(rows/256), 8)); each thread adds its strided tile
    (``twidth`` x ``theight`` pixels, rows outer) in float; ``device::reduce``
    (GenericOptimized32: shuffle tree 16,8,4,2,1 in each warp = block row,
    then 4,2,1 over the 8 warps); ``GlobalReduce`` atomically adds the block
    sums (order chosen by the hardware; block-id order here).
    """
    rows, cols = a.shape
    gx = min(-(-cols // 256), 32)
    gy = min(-(-rows // 256), 8)
    tw = -(-(-(-cols // gx)) // 32)
    th = -(-(-(-rows // gy)) // 8)
    padded = np.zeros((gy * th * 8, gx * tw * 32), F)
    padded[:rows, :cols] = a
    tiles = padded.reshape(gy, th, 8, gx, tw, 32)
    acc = np.zeros((gy, 8, gx, 32), F)
    for i in range(th):
        for j in range(tw):
            acc = acc + tiles[:, i, :, :, j, :]
    acc = acc.transpose(0, 2, 1, 3)  # (block y, block x, warp = ty, lane = tx)
    for d in (16, 8, 4, 2, 1):
        acc = acc[..., :d] + acc[..., d:2 * d]
    acc = acc[..., 0]
    for d in (4, 2, 1):
        acc = acc[..., :d] + acc[..., d:2 * d]
    total = F(0.0)
    for block_sum in acc[..., 0].reshape(-1):
        total = F(total + block_sum)
    return float(total)


def _cuda4_sum_double(a):
    """4.x ``cuda::calcSum`` of a CV_32FC1 image: ``sumImpl<float, double, 1>``."""
    return float(np.sum(a, dtype=np.float64))


# --------------------------------------------------------------------------
# one scale (procOneScale is the same in 2.4 and 4.x apart from the sum)


def proc_one_scale(I0, I1, u1, u2, sum_fn, *, tau=TAU, lambda_=LAMBDA, theta=THETA,
                   warps=WARPS, epsilon=EPSILON, iterations=ITERATIONS, log=None):
    """``procOneScale`` (2.4 tvl1flow.cpp; 4.x tvl1flow.cpp with gamma = 0).

    Dual variables reset to 0 once per scale; per warp ``warpBackward`` then up
    to ``iterations`` of estimateU / estimateDualVariables.  Stopping rule as
    in the source::

        error = DBL_MAX; prevError = 0
        for (n = 0; error > scaledEpsilon && n < iterations; ++n)
            calcError = epsilon > 0 && (n & 1) && prevError < scaledEpsilon
            estimateU(...)
            if calcError: error = sum(diff); prevError = error
            else:         error = DBL_MAX;   prevError -= scaledEpsilon
            estimateDualVariables(...)

    with scaledEpsilon = epsilon^2 * area (double).  ``log``, if a list, gets
    per warp a dict: level shape, iterations run, the (n, error) of every
    summed step, and the flow (u1, u2) before and after the warp.
    """
    scaled_epsilon = epsilon * epsilon * I0.size
    I1x, I1y = centered_gradient(I1)
    p11, p12, p21, p22 = (np.zeros_like(I0) for _ in range(4))
    l_t = F(lambda_ * theta)
    taut = F(tau / theta)
    for _ in range(warps):
        u_in = (u1, u2)
        _, I1wx, I1wy, grad, rho_c = warp_backward(I0, I1, I1x, I1y, u1, u2)
        error = np.finfo(np.float64).max
        prev_error = 0.0
        sums = []
        n = 0
        while error > scaled_epsilon and n < iterations:
            calc_error = epsilon > 0 and (n & 1) == 1 and prev_error < scaled_epsilon
            u1, u2, diff = estimate_u(I1wx, I1wy, grad, rho_c, p11, p12, p21, p22,
                                      u1, u2, l_t, theta, calc_error)
            if calc_error:
                error = sum_fn(diff)
                prev_error = error
                sums.append((n, error))
            else:
                error = np.finfo(np.float64).max
                prev_error -= scaled_epsilon
            p11, p12, p21, p22 = estimate_dual_variables(u1, u2, p11, p12, p21, p22, taut)
            n += 1
        if log is not None:
            log.append({"shape": I0.shape, "iterations": n, "sums": sums,
                        "scaled_epsilon": scaled_epsilon, "u_in": u_in, "u_out": (u1, u2)})
    return u1, u2


# --------------------------------------------------------------------------
# pyramids and resizing


def _reflect101(i, n):
    """``BrdReflect101`` for overruns shorter than the axis: -1 -> 1, n -> n-2."""
    i = np.abs(i)
    last = n - 1
    return last - np.abs(last - i)


def pyr_down(src):
    """2.4 ``gpu::pyrDown`` on CV_32FC1 (pyramids.cpp, cuda/pyr_down.cu).

    Output ((rows+1)/2, (cols+1)/2); 5-tap [1 4 6 4 1]/16 with BORDER_REFLECT_101
    at source rows/cols 2y, 2x.  The kernel first sums rows 2y-2..2y+2 of each
    column (float, ``sum = 0.0625f*a; sum = sum + 0.25f*b; ...``) into shared
    memory, then the same 5 taps over columns 2x-2..2x+2 of those sums.
    """
    h, w = src.shape
    k = [F(c) for c in PYRDOWN_KERNEL]
    rows = 2 * np.arange((h + 1) // 2)
    cols = 2 * np.arange((w + 1) // 2)
    vertical = k[0] * src[_reflect101(rows - 2, h), :]
    for t in range(1, 5):
        vertical = vertical + k[t] * src[_reflect101(rows - 2 + t, h), :]
    out = k[0] * vertical[:, _reflect101(cols - 2, w)]
    for t in range(1, 5):
        out = out + k[t] * vertical[:, _reflect101(cols - 2 + t, w)]
    return out


def resize_linear(src, dsize, fy, fx):
    """GPU INTER_LINEAR resize of a float image with source-per-destination factors.

    cuda/resize.cu ``resize_linear`` (global memory) and ``LinearFilter`` over
    a clamp-addressed point texture (2.4 and 4.x, identical arithmetic)::

        src_x = dst_x * fx;  src_y = dst_y * fy          (float, no half-pixel shift)
        x1 = floor(src_x); x2 = x1 + 1 (read clamped to cols-1); same for y
        out = 0
        out += src(y1,x1) * ((x2-src_x)*(y2-src_y))
        out += src(y1,x2) * ((src_x-x1)*(y2-src_y))
        out += src(y2,x1) * ((x2-src_x)*(src_y-y1))
        out += src(y2,x2) * ((src_x-x1)*(src_y-y1))

    ``dsize`` is (rows, cols); ``fx``, ``fy`` are the float32 factors the host
    passes, ``static_cast<float>(1.0 / fx_host)``.
    """
    h, w = src.shape
    dh, dw = dsize
    src_x = np.arange(dw, dtype=F) * F(fx)
    src_y = np.arange(dh, dtype=F) * F(fy)
    x1 = np.floor(src_x)
    y1 = np.floor(src_y)
    x2 = x1 + F(1.0)
    y2 = y1 + F(1.0)
    ix1 = np.clip(x1, 0, w - 1).astype(np.intp)
    ix2 = np.clip(x2, 0, w - 1).astype(np.intp)
    iy1 = np.clip(y1, 0, h - 1).astype(np.intp)[:, None]
    iy2 = np.clip(y2, 0, h - 1).astype(np.intp)[:, None]
    ax2, ax1 = (x2 - src_x)[None, :], (src_x - x1)[None, :]
    ay2, ay1 = (y2 - src_y)[:, None], (src_y - y1)[:, None]
    out = np.zeros((dh, dw), F)
    out = out + src[iy1, ix1] * (ax2 * ay2)
    out = out + src[iy1, ix2] * (ax1 * ay2)
    out = out + src[iy2, ix1] * (ax2 * ay1)
    out = out + src[iy2, ix2] * (ax1 * ay1)
    return out


def resize_to(src, dsize):
    """``gpu::resize(src, dst, dsize)`` / ``cuda::resize(src, dst, dsize, 0, 0, INTER_LINEAR)``.

    resize.cpp (both versions): with dsize given, ``fx = dsize.width / src.cols``
    (double) and the kernel gets ``float(1.0 / fx)``; same size means a copy.
    """
    h, w = src.shape
    dh, dw = dsize
    if (dh, dw) == (h, w):
        return src.copy()
    fx = dw / w
    fy = dh / h
    return resize_linear(src, dsize, F(1.0 / fy), F(1.0 / fx))


def resize_scale(src, scale):
    """``cuda::resize(src, dst, Size(), scale, scale, INTER_LINEAR)`` (4.x resize.cpp).

    dsize = (saturate_cast<int>(cols*scale), saturate_cast<int>(rows*scale)),
    i.e. rounded to nearest; the kernel samples at ``dst_x * float(1/scale)``
    (exactly 1.25 for 0.8), not at the ratio of the rounded sizes.
    """
    h, w = src.shape
    dsize = (int(np.rint(h * scale)), int(np.rint(w * scale)))
    if dsize == (h, w):
        return src.copy()
    return resize_linear(src, dsize, F(1.0 / scale), F(1.0 / scale))


def pyramid_shapes(shape, scale=None, nscales=NSCALES, min_size=MIN_SIZE):
    """(rows, cols) of the 4.x pyramid levels kept (``calcImpl``'s scale loop)."""
    scale = SCALE_STEP if scale is None else scale
    shapes = [tuple(shape)]
    for _ in range(1, nscales):
        h, w = shapes[-1]
        nxt = (int(np.rint(h * scale)), int(np.rint(w * scale)))
        if nxt[1] < min_size or nxt[0] < min_size:
            break
        shapes.append(nxt)
    return shapes


# --------------------------------------------------------------------------
# the two variants


def tsn_tvl1(prev, next, *, iterations=ITERATIONS, log=None):
    """OpenCV 2.4.13 ``cv::gpu::OpticalFlowDual_TVL1_GPU()(I0, I1, flowx, flowy)``.

    As TSN's dense_flow (branch opencv-2.4, ``calcDenseFlowGPU``, ``-t 1``)
    runs it: default-constructed, so tau 0.25, lambda 0.15, theta 0.3,
    nscales 5, warps 5, epsilon 0.01, iterations 300, useInitialFlow false.

    modules/gpu/src/tvl1flow.cpp ``operator()``:
      - I0s[0], I1s[0] = convertTo(CV_32F, uint8 ? 1 : 255)   (``to_gpu_float``)
      - for s in 1..nscales-1: I0s[s] = gpu::pyrDown(I0s[s-1]) (``pyr_down``),
        same for I1; if the new level has cols < 16 or rows < 16, nscales = s
        and the level is dropped (the member stays lowered for later calls of
        the same object, which changes nothing for frames of one size)
      - u = 0 at the coarsest level; for s = nscales-1 .. 0: procOneScale;
        then ``gpu::resize(u, I0s[s-1].size())`` (default INTER_LINEAR;
        ``resize_to``) and ``gpu::multiply(u, 2)`` -- x2 although the sizes
        halve with rounding up (e.g. 11 -> 22 -> 43 -> 85)
      - no median filtering.
    ``procOneScale`` as in ``proc_one_scale``; the error sum is 2.4's float
    ``gpu::sum`` (``_gpu24_sum_float``).

    prev, next: (H, W) uint8, or float in 0..1 (multiplied by 255, as the
    source does).  Returns (H, W, 2) float32 flow (x, y) from prev to next.
    ``iterations`` and ``log`` are for tests (see ``proc_one_scale``).
    """
    return _gpu_tvl1(prev, next, pyr_down, _gpu24_sum_float, F(2.0), iterations, log)


def denseflow_tvl1(prev, next, *, iterations=ITERATIONS, log=None):
    """OpenCV 4 ``cv::cuda::OpticalFlowDual_TVL1::create()->calc(I0, I1, flow, stream)``.

    As open-mmlab/denseflow (``calc_optflows_imp``) runs it: ``create()`` with
    no arguments, so tau 0.25, lambda 0.15, theta 0.3, nscales 5, warps 5,
    epsilon 0.01, iterations 300, scaleStep 0.8, gamma 0, useInitialFlow
    false; called on a non-default ``cuda::Stream`` (which only selects the
    global-memory resize kernel; same arithmetic as the texture one).

    opencv_contrib modules/cudaoptflow/src/tvl1flow.cpp ``calcImpl``:
      - I0s[0], I1s[0] = convertTo(CV_32F, uint8 ? 1 : 255)   (``to_gpu_float``)
      - for s in 1..nscales-1: I0s[s] = cuda::resize(I0s[s-1], Size(), 0.8,
        0.8, INTER_LINEAR) (``resize_scale``: sizes rounded, sampled at
        dst * 1.25, no blur); if cols < 16 or rows < 16: nscales_ = s, the
        level dropped (as in 2.4, the member stays lowered)
      - u = 0 at the coarsest level; for s = nscales-1 .. 0: procOneScale;
        then ``cuda::resize(u, I0s[s-1].size(), 0, 0, INTER_LINEAR)``
        (``resize_to``) and ``cuda::multiply(u, 1/0.8)`` (float 1.25)
      - gamma = 0: no u3 / p31 / p32; no median filtering.
    ``procOneScale`` as in ``proc_one_scale``; the error sum is ``calcSum``,
    accumulated in double (``_cuda4_sum_double``).

    prev, next: (H, W) uint8, or float in 0..1 (multiplied by 255, as the
    source does).  Returns (H, W, 2) float32 flow (x, y) from prev to next.
    """
    return _gpu_tvl1(prev, next, lambda image: resize_scale(image, SCALE_STEP),
                     _cuda4_sum_double, F(1.0 / SCALE_STEP), iterations, log)


def _gpu_tvl1(prev, next, downscale, error_sum, upscale, iterations, log):
    """What both GPU variants' ``operator()`` / ``calcImpl`` do, given the level
    downscaling, the error sum and the flow factor that tell them apart."""
    I0s = [to_gpu_float(prev)]
    I1s = [to_gpu_float(next)]
    if I0s[0].shape != I1s[0].shape:
        raise ValueError("frames differ in size: %s vs %s" % (I0s[0].shape, I1s[0].shape))
    nscales = NSCALES
    for s in range(1, nscales):
        I0 = downscale(I0s[s - 1])
        I1 = downscale(I1s[s - 1])
        if I0.shape[1] < MIN_SIZE or I0.shape[0] < MIN_SIZE:
            nscales = s
            break
        I0s.append(I0)
        I1s.append(I1)
    u1 = np.zeros_like(I0s[nscales - 1])
    u2 = np.zeros_like(I0s[nscales - 1])
    for s in range(nscales - 1, -1, -1):
        u1, u2 = proc_one_scale(I0s[s], I1s[s], u1, u2, error_sum,
                                iterations=iterations, log=log)
        if s == 0:
            break
        u1 = resize_to(u1, I0s[s - 1].shape) * upscale
        u2 = resize_to(u2, I0s[s - 1].shape) * upscale
    return np.stack([u1, u2], axis=-1)
