"""TV-L1 optical flow (Zach et al. 2007; Sanchez et al. 2013) as TensorFlow ops.

`tvl1_flow(prev, next, variant)` takes batches of grey frame pairs, (B, H, W) float32
in 0..255, and returns (B, H, W, 2) float32 flow in px with prev(p) ~ next(p + flow(p))
(OpenCV's convention). Pure TF: tf.while_loop for the iterations, Python loops only
over the static pyramid levels, so it runs on any TF device (run here on the CPU
only: no accelerator runs TensorFlow for this project), inside a SavedModel and
under `tf.function(jit_compile=True)` at fixed shapes. Each pair of a batch stops on
its own criterion, so its flow is the same computed alone or in a batch. A converged
pair's updates are masked, not skipped: a batch costs B times its slowest pair's
iterations. On a CPU, concurrent batch-1 calls (a parallel tf.data map) therefore
waste less than large batches; batches should pay off on accelerators (not
measured).

Shared by all variants: tau 0.25, lambda 0.15, theta 0.3, 5 scales, 5 warps,
epsilon 0.01, no gamma, levels below 16 px dropped, dual variables reset once per
level, centred / forward differences and divergence with OpenCV's borders
(`tvl1_grad`), flow upsampled by bilinear resize to the finer size and multiplied by
1 / scale step.

Variants, and what was transcribed from where:
  * ``opencv`` -- what `input/flow.py` computes, `cv2.optflow.DualTVL1OpticalFlow`
    (opencv_contrib `modules/optflow/src/tvl1flow.cpp`, CPU): 10 outer x 30 inner
    iterations, 5x5 median of u1, u2 (replicate border) at the start of every outer
    round (`tvl1_median`); warping by opencv `imgproc/src/imgwarp.cpp`
    `remap(INTER_CUBIC)` (`tvl1_remap.remap_cubic_cv`); 0.8 pyramid and flow
    upsampling by imgproc `resize.cpp` float32 INTER_LINEAR (`tvl1_resize`).
    Deviations: the error sum |du|^2 is a float32 tree reduction, not OpenCV's
    row-major running float sum (only a stopping decision within rounding of the
    threshold can differ).
  * ``tsn`` -- TSN's released models: OpenCV 2.4.13 `cv::gpu::OpticalFlowDual_TVL1_GPU`
    (`modules/gpu/src/tvl1flow.cpp`, `cuda/tvl1flow.cu`) as dense_flow `-t 1` runs it:
    300 iterations a warp, error on odd iterations only (see `tvl1_solver`), no
    median; pyramid by `gpu::pyrDown` (`cuda/pyr_down.cu`, `tvl1_pyramid`), flow
    upsampled by `gpu::resize` (`cuda/resize.cu`, LinearFilter on a clamping
    texture) and multiplied by 2; warping by the kernel's own bicubic (Keys a = -0.5,
    taps clamped, divided by the weights' sum; `tvl1_remap.remap_bicubic_gpu`).
  * ``denseflow`` -- mmaction2's models: OpenCV 4 `cv::cuda::OpticalFlowDual_TVL1`
    (opencv_contrib `modules/cudaoptflow/src/tvl1flow.cpp`, `cuda/tvl1flow.cu`,
    defaults from `include/opencv2/cudaoptflow.hpp`): like ``tsn`` but the pyramid is
    `cuda::resize` by 0.8 (`cudawarping/src/cuda/resize.cu`: source x = 1.25 x, no
    half-pixel offset) and the flow is multiplied by 1 / 0.8.
  GPU deviations (``tsn``, ``denseflow``): nvcc contracts a * b + c into fused
  multiply-adds (the bicubic weights and sums, the resize sums, the 0.375 tap of
  pyrDown) and the CUDA reductions sum in another order (2.4: float, 4.x: double);
  here every product and sum is rounded in float32 and the error is a float32 sum.
  hypot (all variants): the double result rounded once to float32 -- glibc's
  hypotf, which the CPU code calls, and NumPy's; CUDA's hypotf is within a few ulp
  of it. This needs float64 (`hypot64=False`: float32 sqrt(x^2 + y^2), meant for
  TPUs; never run on one). The "gpu" stopping rule keeps the decayed error in
  float32 where CUDA uses double: it can flip a stop within rounding.
  Under XLA (jit_compile) on CPU, LLVM fuses a * b + c into FMAs: results differ
  from the graph-mode ones at rounding level, which TV-L1's thresholds amplify at
  a few pixels (tests: >= 99 % of pixels within 0.1 px)."""

import tensorflow as tf

from tsn_tf.ops import tvl1_pyramid
from tsn_tf.ops import tvl1_remap
from tsn_tf.ops import tvl1_resize
from tsn_tf.ops import tvl1_solver

VARIANTS = ("opencv", "tsn", "denseflow")
_SHARED = dict(tau=0.25, lambda_=0.15, theta=0.3, epsilon=0.01, warps=5)
# variant: (solver params, pyramid kind, flow upsampling, upsampling factor, warp)
_CONFIGS = {
    "opencv": (dict(outer=10, inner=30, schedule="cpu"),
               "scale", tvl1_resize.resize_linear, 1 / 0.8, tvl1_remap.remap_cubic_cv),
    "tsn": (dict(iterations=300, schedule="gpu"),
            "halve", tvl1_resize.resize_linear_gpu, 2.0, tvl1_remap.remap_bicubic_gpu),
    "denseflow": (dict(iterations=300, schedule="gpu"),
                  "gpu", tvl1_resize.resize_linear_gpu, 1 / 0.8,
                  tvl1_remap.remap_bicubic_gpu),
}
NSCALES = 5


def _grey_batch(frames, name):
    """(B, H, W) float32 tensor with static H and W, or a one-line ValueError."""
    frames = tf.convert_to_tensor(frames)
    if frames.shape.rank == 4 and frames.shape[-1] == 1:
        frames = frames[..., 0]
    if frames.shape.rank != 3:
        raise ValueError(f"{name} must be a batch of grey frames (B, H, W) or (B, H, W, 1); "
                         f"received shape {frames.shape}")
    if frames.shape[1] is None or frames.shape[2] is None:
        raise ValueError(f"{name} needs static height and width; received shape "
                         f"{frames.shape}")
    return tf.cast(frames, tf.float32)


def _check_variant(variant):
    if variant not in VARIANTS:
        raise ValueError(f"unknown TV-L1 variant {variant!r}; expected one of {VARIANTS}")


def _validate(prev, next_):
    """Checked (prev, next) tensors; raises a one-line ValueError naming the problem."""
    prev, next_ = _grey_batch(prev, "prev"), _grey_batch(next_, "next")
    if prev.shape[1:] != next_.shape[1:] or (
            prev.shape[0] is not None and next_.shape[0] is not None
            and prev.shape[0] != next_.shape[0]):
        raise ValueError(f"prev and next must have the same shape; received {prev.shape} "
                         f"and {next_.shape}")
    height, width = prev.shape[1], prev.shape[2]
    minimum = tvl1_pyramid.MIN_LEVEL_SIZE
    if height < minimum or width < minimum:
        raise ValueError(f"frames of {height}x{width} (HxW) are smaller than one pyramid "
                         f"level; TV-L1 needs at least {minimum}x{minimum}")
    return prev, next_


def tvl1_flow(prev, next, variant="opencv", hypot64=True):  # pylint: disable=redefined-builtin
    """TV-L1 flow of grey frame pairs.

    Args:
      prev, next: (B, H, W) (or (B, H, W, 1)) frames, values 0..255, static H, W >= 16.
      variant: "opencv" (cv2.optflow CPU), "tsn" (OpenCV 2.4 GPU, TSN's models) or
        "denseflow" (OpenCV 4 CUDA, mmaction2's models); see the module docstring.
      hypot64: compute |grad u| in float64 then round once (default); False keeps
        everything float32 (meant for TPUs, not run on one), at rounding-level cost.
    Returns:
      (B, H, W, 2) float32 flow (x, y) in px: prev(p) ~ next(p + flow(p)).
    """
    _check_variant(variant)
    prev, next_ = _validate(prev, next)
    solver, kind, upsample, factor, warp = _CONFIGS[variant]
    params = tvl1_solver.Params(**_SHARED, **solver, hypot64=bool(hypot64))
    sizes = tvl1_pyramid.level_sizes(prev.shape[1], prev.shape[2], NSCALES,
                                     "halve" if kind == "halve" else "scale")
    I0s = tvl1_pyramid.build(prev, sizes, kind)
    I1s = tvl1_pyramid.build(next_, sizes, kind)
    u1 = u2 = tf.zeros_like(I0s[-1])
    for level in range(len(sizes) - 1, -1, -1):
        u1, u2 = tvl1_solver.solve_level(I0s[level], I1s[level], u1, u2, params, warp)
        if level:
            u1 = upsample(u1, sizes[level - 1]) * factor
            u2 = upsample(u2, sizes[level - 1]) * factor
    return tf.stack([u1, u2], axis=-1)


def variant_parameters(variant: str) -> dict:
    """A variant's settings as plain values (recorded with shards made with it)."""
    _check_variant(variant)
    solver, kind, _, factor, _ = _CONFIGS[variant]
    return {**_SHARED, "nscales": NSCALES, "pyramid": kind, "flow_upscale": round(factor, 6),
            **solver}
