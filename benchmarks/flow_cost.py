"""Cost of optical flow per minute of video, per algorithm, and TV-L1 over processes.

On the first frames of a real clip (demo.mp4, Kinetics, resized to TSN's
340x256), on one OpenCV thread, measures the CPU seconds of one frame pair as
ingestion computes it (`flow_pool.PairEncoder`: flow, quantization, two JPEGs)
and extrapolates to one minute of 30 fps video (1799 pairs). CPU time, not
wall time: the machine may be shared. Then the wall time of TV-L1 on the same
pairs in 1 process and over `--workers` processes (`flow_pool`, frame ranges,
same bytes), side by side: that ratio needs idle cores to mean anything.

    .venv/bin/python benchmarks/flow_cost.py [--tvl1_pairs 6] [--pairs 60] [--workers 2]
"""
import argparse
import pathlib
import time

import cv2

from tsn_tf.input.ingestion import flow_pool, video

CLIP = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "demo.mp4"
PAIRS_PER_MINUTE = 30 * 60 - 1


def gray_frames(count):
    with video.VideoReader(CLIP, size=(340, 256), max_frames=count) as reader:
        return [cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) for frame in reader]


def cpu_seconds_per_pair(algorithm, grays):
    encoder = flow_pool.PairEncoder(flow_pool.FlowSettings(algorithm, 20.0, 90))
    start = time.process_time()
    for prev, nxt in zip(grays[:-1], grays[1:]):
        encoder(prev, nxt)
    return (time.process_time() - start) / (len(grays) - 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tvl1_pairs", type=int, default=6,
                        help="pairs for TV-L1, timed per pair and in 1 vs --workers processes")
    parser.add_argument("--pairs", type=int, default=60, help="pairs for DIS and Farneback")
    parser.add_argument("--workers", type=int, default=2,
                        help="processes of the parallel TV-L1 run (flow_pool)")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    print(f"{CLIP.name} at 340x256, one OpenCV thread; extrapolated to 1 min at 30 fps "
          f"({PAIRS_PER_MINUTE} pairs)")
    print(f"{'algorithm':10s} {'pairs':>5s} {'CPU s/pair':>11s} {'CPU min per video min':>22s}")
    for algorithm, pairs in (("tvl1", args.tvl1_pairs), ("dis", args.pairs),
                             ("farneback", args.pairs)):
        per_pair = cpu_seconds_per_pair(algorithm, gray_frames(pairs + 1))
        print(f"{algorithm:10s} {pairs:5d} {per_pair:11.4f} "
              f"{per_pair * PAIRS_PER_MINUTE / 60:22.2f}")

    grays = gray_frames(args.tvl1_pairs + 1)
    settings = flow_pool.FlowSettings("tvl1", 20.0, 90)
    start = time.perf_counter()
    serial = flow_pool.encode_range(grays, settings)
    serial_s = time.perf_counter() - start
    start = time.perf_counter()
    parallel = flow_pool.encode_pairs_parallel(grays, settings, args.workers)
    parallel_s = time.perf_counter() - start
    assert parallel == serial
    print(f"tvl1 wall, {args.tvl1_pairs} pairs: 1 process {serial_s:.1f} s, {args.workers} "
          f"processes {parallel_s:.1f} s (incl. start-up), ratio {serial_s / parallel_s:.2f}x; "
          "same bytes")


if __name__ == "__main__":
    main()
