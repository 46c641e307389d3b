"""Per-core flow frames/s: the bare OpenCV flow call vs our per-video function.

On the same decoded frames of a real clip (demo.mp4, 340x256), on one OpenCV
thread, prints for each algorithm:
  bare  - `engine.calc(prev_gray, next_gray)` on precomputed gray frames;
  loop  - the least hand-written OpenCV loop doing our work: gray, calc,
          quantize, JPEG-encode the RGB frame and flow x and y;
  ours  - `encode.encode_frames` (the same work) on the same BGR frames;
  file  - `encode.ingest_video` on the clip file (adds decoding), against
          decode + gray + bare calc.
Ratios are times over bare's (target <= 1.10) and over loop's (our Python
overhead beyond the work itself). Runs are interleaved and the best of
`--repeats` is kept; times are process CPU time, since the machine is shared.

    .venv/bin/python benchmarks/ingest_flow_overhead.py [--frames 41] [--tvl1_frames 6]
"""
import argparse
import pathlib
import time

import cv2

from tsn_tf.input.ingestion import encode, flow, video

CLIP = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "demo.mp4"


def _seconds(function):
    """CPU seconds of this process: on a shared machine, unlike wall time, it does
    not count waiting for a core (OpenCV runs on one thread here)."""
    start = time.process_time()
    function()
    return time.process_time() - start


def _decode_bgr(path, count):
    with video.VideoReader(path, size=(340, 256), max_frames=count) as reader:
        return list(reader)


def measure(algorithm, frames_bgr, repeats):
    """Best seconds per flow frame of each variant (see the module doc)."""
    gray = [cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) for frame in frames_bgr]
    estimator = flow.FlowEstimator(algorithm)
    options = encode.IngestOptions(flow_algorithm=algorithm, max_frames=len(frames_bgr))

    def bare():
        for prev, nxt in zip(gray[:-1], gray[1:]):
            estimator(prev, nxt)

    def loop():
        params = [cv2.IMWRITE_JPEG_QUALITY, 90]
        prev = None
        for frame in frames_bgr:
            cv2.imencode(".jpg", frame, params)
            gray_frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            if prev is not None:
                flow_x, flow_y = flow.quantize_flow(estimator(prev, gray_frame), 20.0)
                cv2.imencode(".jpg", flow_x, params)
                cv2.imencode(".jpg", flow_y, params)
            prev = gray_frame

    def ours():
        encode.encode_frames(frames_bgr, options)

    def bare_with_decode():
        decoded = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in _decode_bgr(CLIP, len(gray))]
        for prev, nxt in zip(decoded[:-1], decoded[1:]):
            estimator(prev, nxt)

    def ours_file():
        encode.ingest_video(CLIP, media_id="demo", label_indices=[0], label_strings=["x"],
                            options=options)

    times = {name: float("inf") for name in ("bare", "loop", "ours", "bare+decode", "file")}
    for _ in range(repeats):  # interleaved, so load changes hit both sides alike
        for name, function in (("bare", bare), ("loop", loop), ("ours", ours),
                               ("bare+decode", bare_with_decode), ("file", ours_file)):
            times[name] = min(times[name], _seconds(function))
    flows = len(gray) - 1
    return {name: seconds / flows for name, seconds in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=41, help="frames for DIS/Farneback")
    parser.add_argument("--tvl1_frames", type=int, default=6, help="frames for TV-L1")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    print(f"clip {CLIP.name} at 340x256, 1 OpenCV thread, OpenCV {cv2.__version__}")
    print(f"{'algorithm':10} {'flows':>5} {'bare f/s':>9} {'loop f/s':>9} {'ours f/s':>9}"
          f" {'ours/bare':>9} {'ours/loop':>9} {'bare+dec f/s':>12} {'file f/s':>9}"
          f" {'file/(bare+dec)':>15}")
    for algorithm, count, repeats in (("dis", args.frames, args.repeats),
                                      ("farneback", args.frames, args.repeats),
                                      ("tvl1", args.tvl1_frames, 1)):
        frames = _decode_bgr(CLIP, count)
        per_flow = measure(algorithm, frames, repeats)
        rate = {name: 1 / seconds for name, seconds in per_flow.items()}
        print(f"{algorithm:10} {count - 1:5d} {rate['bare']:9.2f} {rate['loop']:9.2f} "
              f"{rate['ours']:9.2f} {rate['bare'] / rate['ours']:9.3f} "
              f"{rate['loop'] / rate['ours']:9.3f} {rate['bare+decode']:12.2f} "
              f"{rate['file']:9.2f} {rate['bare+decode'] / rate['file']:15.3f}", flush=True)


if __name__ == "__main__":
    main()
