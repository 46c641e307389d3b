"""How closely the TF TV-L1 ops (tsn_tf.ops.tvl1) reproduce their references, on real clips.

On consecutive-frame pairs of every clip in tests/data (grey, resized bilinear to
--size), prints per comparison: each pair's share of pixels within 0.1 px end-point
error, the share of pairs where that is >= 95 % (issue #21's criterion), and after
TSN's quantization (bound 20) the median and minimum share of pixels within one
grey level. Comparisons:
  * variant `opencv` vs cv2.optflow.DualTVL1OpticalFlow with IPP off and on;
  * variants `tsn` / `denseflow` vs `opencv` (how far the three families are apart:
    mean EPE, shares within 0.1 and 1 px);
  * variants `tsn` / `denseflow` vs the NumPy transcriptions in tests/tvl1_reference.py
    when that file exists (--reference).
TF runs in graph mode (no XLA: bit-exact to the C++ arithmetic on CPU).

    .venv/bin/python benchmarks/tvl1_agreement.py [--size 340x256] [--pairs_per_clip 3]
"""
import argparse
import importlib.util
import pathlib
import time

import cv2
import numpy as np
import tensorflow as tf

from tsn_tf.ops import tvl1

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
CLIPS = ("demo.mp4", "part_0.mp4", "test.avi", "test_video_structuralize.mp4")


def clip_pairs(size, per_clip, stride=7):
    """Grey uint8 (prev, next) pairs, `per_clip` per clip, `stride` frames apart."""
    pairs = []
    for name in CLIPS:
        capture = cv2.VideoCapture(str(DATA / name))
        frames = []
        while len(frames) < per_clip * stride + 1:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), size,
                                     interpolation=cv2.INTER_LINEAR))
        pairs += [(frames[k * stride], frames[k * stride + 1]) for k in range(per_clip)
                  if k * stride + 1 < len(frames)]
    return pairs


def quantize(flow, bound=20.0):
    """dense_flow's convertFlowToImage mapping to 0..255."""
    q = np.rint(255.0 * (flow.astype(np.float64) + bound) / (2 * bound))
    return np.where(flow > bound, 255, np.where(flow < -bound, 0, q)).astype(np.int32)


def report(label, ours, reference):
    """Prints the agreement figures of one comparison; returns per-pair shares."""
    epe = np.linalg.norm(ours - reference, axis=-1)
    within = (epe <= 0.1).mean(axis=(1, 2))
    within1 = (epe <= 1.0).mean(axis=(1, 2))
    level = (np.abs(quantize(ours) - quantize(reference)).max(axis=-1) <= 1).mean(axis=(1, 2))
    print(f"{label:34s} pairs passing {np.mean(within >= 0.95):6.1%}  within 0.1 px: "
          f"min {within.min():.4f} median {np.median(within):.4f}  within 1 px "
          f"{within1.mean():.4f}  mean EPE {epe.mean():.4f}  quantized within 1 level: "
          f"median {np.median(level):.4f} min {level.min():.4f}")
    print(f"{'':34s} per pair within 0.1 px: " + " ".join(f"{w:.3f}" for w in within))
    return within


def cv2_flow(pairs, use_ipp):
    before = cv2.ipp.useIPP()
    cv2.ipp.setUseIPP(use_ipp)
    try:
        return np.stack([cv2.optflow.DualTVL1OpticalFlow_create().calc(a, b, None)
                         for a, b in pairs])
    finally:
        cv2.ipp.setUseIPP(before)


def tf_flow(pairs, variant, batch):
    height, width = pairs[0][0].shape
    spec = tf.TensorSpec([None, height, width], tf.float32)
    fn = tf.function(lambda a, b: tvl1.tvl1_flow(a, b, variant), input_signature=[spec, spec])
    out = []
    for start in range(0, len(pairs), batch):
        chunk = pairs[start:start + batch]
        out.append(fn(np.stack([a for a, _ in chunk]).astype(np.float32),
                      np.stack([b for _, b in chunk]).astype(np.float32)).numpy())
    return np.concatenate(out)


def load_reference():
    path = ROOT / "tests" / "tvl1_reference.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("tvl1_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="340x256", help="frame size WxH")
    parser.add_argument("--pairs_per_clip", type=int, default=3, help="pairs from each clip")
    parser.add_argument("--batch", type=int, default=4, help="pairs per TF call")
    parser.add_argument("--variants", default="opencv,tsn,denseflow",
                        help="comma-separated TF variants to run")
    parser.add_argument("--reference", action="store_true",
                        help="also compare tsn/denseflow with tests/tvl1_reference.py")
    args = parser.parse_args()
    try:
        size = tuple(int(v) for v in args.size.lower().split("x"))
        assert len(size) == 2 and min(size) >= 16 and args.batch >= 1
        assert all(v in tvl1.VARIANTS for v in args.variants.split(","))
    except (ValueError, AssertionError):
        parser.error(f"--size WxH (>= 16 px), --batch >= 1, --variants of {tvl1.VARIANTS}; "
                     f"got {args.size!r}, {args.batch}, {args.variants!r}")
    pairs = clip_pairs(size, args.pairs_per_clip)
    print(f"{len(pairs)} pairs at {size[0]}x{size[1]} from {', '.join(CLIPS)}")
    start = time.perf_counter()
    flows = {name: tf_flow(pairs, name, args.batch) for name in args.variants.split(",")}
    print(f"TF variants computed in {time.perf_counter() - start:.0f} s")
    if "opencv" in flows:
        for use_ipp in (False, True):
            report(f"opencv vs cv2 (IPP {'on' if use_ipp else 'off'})", flows["opencv"],
                   cv2_flow(pairs, use_ipp))
        for name in ("tsn", "denseflow"):
            if name in flows:
                report(f"{name} vs opencv", flows[name], flows["opencv"])
    if args.reference:
        module = load_reference()
        if module is None:
            print("no tests/tvl1_reference.py: skipped the NumPy references")
        functions = {"tsn": "tsn_tvl1", "denseflow": "denseflow_tvl1"}
        for name in ("tsn", "denseflow"):
            if module is not None and name in flows:
                fn = getattr(module, functions[name])
                ref = np.stack([fn(a, b) for a, b in pairs])
                report(f"{name} vs NumPy reference", flows[name], ref)


if __name__ == "__main__":
    main()
