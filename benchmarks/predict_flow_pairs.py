"""Wall time of tsn-predict with an RGB + flow model pair: every flow pair vs sampled pairs.

    .venv/bin/python benchmarks/predict_flow_pairs.py [--seconds 60] [--tvl1_seconds 10]
        [--algorithms dis,tvl1] [--untrimmed_algorithms dis] [--flow_workers 2]

Makes a clip of `--seconds` s at 30 fps, 340x256 (tests/data/demo.mp4's 280
frames played forwards then backwards, repeated; mp4v) in a temporary folder,
exports tiny-backbone RGB and flow models as the tests do (tests/export_helpers),
the flow model's run recording the algorithm as its preprocessing, and runs
tsn-predict (a fresh process each: TensorFlow start-up and model loading are
in both times) on it with --all_flow_pairs (before: the flow of all N - 1
pairs) and without (after: the sampled pairs only), one after the other, and
checks that both print the same ranking. Wall seconds, and CPU seconds of
tsn-predict with its flow workers (less sensitive to a shared machine; the
load average is printed). TV-L1 compares both on a clip of `--tvl1_seconds`
s (every pair of the full 60 s, 1,799 at 1.5-2 CPU s each, was not run here),
then measures the sampled pairs on the `--seconds` clip and extrapolates every
pair there: that run plus the pairs it skipped, each at the cost of a pair in
the short clip's two runs (their difference over their difference in pairs).
The output marks that figure EXTRAPOLATED.
"""
import argparse
import os
import pathlib
import re
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402

from export_helpers import make_run_dir  # noqa: E402
from tsn_tf.export import saved_model  # noqa: E402
from tsn_tf.input.contract.preprocessing import Preprocessing  # noqa: E402
from tsn_tf.input.ingestion import flow as flow_lib  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
DEMO = REPO / "tests" / "data" / "demo.mp4"
RATE = 30.0
SIZE = (340, 256)
RANKING = re.compile(r"^\d+\. .+\t[0-9.]+$")
BAR = re.compile(r"flow: .*?(\d+)/(\d+) pairs")


def make_clip(path: pathlib.Path, seconds: float) -> int:
    """demo.mp4's frames forwards then backwards until `seconds` at 30 fps; frame count."""
    capture = cv2.VideoCapture(str(DEMO))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, SIZE, interpolation=cv2.INTER_AREA))
    capture.release()
    loop = frames + frames[-2:0:-1]
    count = int(round(seconds * RATE))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), RATE, SIZE)
    assert writer.isOpened(), path
    for index in range(count):
        writer.write(loop[index % len(loop)])
    writer.release()
    return count


def export_models(folder: pathlib.Path, algorithms):
    """{"rgb": version dir, algorithm: version dir of a flow model trained on it}."""
    models = {"rgb": saved_model.export_saved_model(
            make_run_dir(folder / "run_rgb", "rgb", seed=0), str(folder / "models"), "rgb",
            warmup_requests=False)}
    for algorithm in algorithms:
        run = make_run_dir(folder / f"run_flow_{algorithm}", "flow", seed=1)
        Preprocessing(flow_algorithm=algorithm,
                      flow_parameters=flow_lib.FlowEstimator(algorithm).parameters()).save(run)
        models[algorithm] = saved_model.export_saved_model(
                run, str(folder / "models"), f"flow_{algorithm}", warmup_requests=False)
    return models


def _children_cpu_s():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_predict(models, video, flow_workers, *flags):
    """(wall seconds, CPU seconds of tsn-predict and its flow workers, printed ranking
    lines, (pairs done, pairs total) of the bar)."""
    command = [sys.executable, "-m", "tsn_tf.export.predict_main", f"--model={models}",
               f"--flow_workers={flow_workers}", *flags, str(video)]
    start, cpu = time.perf_counter(), _children_cpu_s()
    result = subprocess.run(command, capture_output=True, text=True, cwd=str(REPO))
    seconds, cpu = time.perf_counter() - start, _children_cpu_s() - cpu
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    ranking = [line for line in result.stdout.splitlines() if RANKING.match(line)]
    bars = BAR.findall(result.stderr)
    return seconds, cpu, ranking, tuple(int(v) for v in bars[-1]) if bars else None


def compare(label, models, video, num_frames, flow_workers, untrimmed, long_clip=None):
    """Runs every pair then sampled pairs on `video`; with `long_clip` (video, frames),
    also sampled pairs on it, and extrapolates every pair there (see the module doc)."""
    flags = ["--untrimmed", f"--timeline={video.parent / 'timeline.png'}"] if untrimmed else []
    before, cpu_before, ranking_before, bar_before = run_predict(
            models, video, flow_workers, "--all_flow_pairs", *flags)
    after, cpu_after, ranking_after, bar_after = run_predict(models, video, flow_workers,
                                                             *flags)
    assert ranking_after == ranking_before, (ranking_before, ranking_after)
    mode = "untrimmed" if untrimmed else "trimmed"
    print(f"{label:6s} {mode:9s} {num_frames / RATE:5.0f} s {num_frames:5d} frames | "
          f"all pairs {before:7.1f} s wall {cpu_before:7.1f} s CPU (bar {bar_before[0]}/"
          f"{bar_before[1]}) | sampled {after:6.1f} s wall {cpu_after:6.1f} s CPU (bar "
          f"{bar_after[0]}/{bar_after[1]}) | ratio wall {before / after:5.1f}x CPU "
          f"{cpu_before / cpu_after:5.1f}x | same ranking; load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    if long_clip is None:
        return
    long_video, long_frames = long_clip
    wall, cpu, _, bar = run_predict(models, long_video, flow_workers, *flags)
    print(f"{label:6s} {mode:9s} {long_frames / RATE:5.0f} s {long_frames:5d} frames | "
          f"sampled {wall:6.1f} s wall {cpu:6.1f} s CPU (bar {bar[0]}/{bar[1]}), measured; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    # every pair there = the measured sampled run + the pairs it skipped, at the cost of
    # a pair from the short clip's two runs (their fixed costs cancel in the difference)
    extra = bar_before[1] - bar_after[1]
    if extra <= 0:
        print(f"{'':6s} the short clip samples every pair: no per-pair cost to extrapolate "
              "with (give a longer --tvl1_seconds)")
        return
    skipped = long_frames - 1 - bar[1]
    for unit, full_s, sampled_s, long_s in (("wall", before, after, wall),
                                            ("CPU", cpu_before, cpu_after, cpu)):
        per_pair = (full_s - sampled_s) / extra
        estimate = long_s + skipped * per_pair
        print(f"{'':6s} all pairs at {long_frames / RATE:.0f} s EXTRAPOLATED ({unit}): "
              f"{long_s:.0f} s + {skipped} skipped pairs x {per_pair:.2f} s = {estimate:.0f} s;"
              f" ratio {estimate / long_s:.1f}x", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="clip length (DIS)")
    parser.add_argument("--tvl1_seconds", type=float, default=10.0,
                        help="clip length for TV-L1 (extrapolated to --seconds)")
    parser.add_argument("--algorithms", default="dis,tvl1")
    parser.add_argument("--untrimmed_algorithms", default="dis",
                        help="algorithms also compared with --untrimmed")
    parser.add_argument("--flow_workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    algorithms = [a for a in args.algorithms.split(",") if a]
    untrimmed = [a for a in args.untrimmed_algorithms.split(",") if a]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        models = export_models(tmp, algorithms)
        clips = {}
        for algorithm in algorithms:
            seconds = args.tvl1_seconds if algorithm == "tvl1" else args.seconds
            if seconds not in clips:
                path = tmp / f"clip_{seconds:g}s.mp4"
                clips[seconds] = (path, make_clip(path, seconds))
        print(f"tsn-predict, RGB + flow (tiny backbone, 25 segments, 1 crop), clips of "
              f"{DEMO.name} at {SIZE[0]}x{SIZE[1]}, {RATE:g} fps; --flow_workers="
              f"{args.flow_workers} (TV-L1 only); {os.cpu_count()} cores", flush=True)
        for algorithm in algorithms:
            seconds = args.tvl1_seconds if algorithm == "tvl1" else args.seconds
            if seconds != args.seconds and args.seconds not in clips:
                path = tmp / f"clip_{args.seconds:g}s.mp4"
                clips[args.seconds] = (path, make_clip(path, args.seconds))
            pair = f"{models['rgb']},{models[algorithm]}"
            for mode in [False] + ([True] if algorithm in untrimmed else []):
                compare(algorithm, pair, *clips[seconds], args.flow_workers, mode,
                        clips[args.seconds] if seconds != args.seconds else None)


if __name__ == "__main__":
    main()
