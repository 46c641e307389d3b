"""Throughput and peak memory of TV-L1 as TF ops vs cv2.optflow TV-L1 vs DIS, same threads.

On real consecutive-frame pairs at 340x256 from tests/data (grey, bilinear), each
configuration runs in a child process of its own (peak memory = the child's
getrusage maxrss, so configurations do not pollute each other): the TF ops
(tsn_tf.ops.tvl1) per variant, batch size and with / without XLA; OpenCV's
`cv2.optflow.DualTVL1OpticalFlow` (what ingestion computes today) and
`cv2.DISOpticalFlow` MEDIUM. OpenCV gets `cv2.setNumThreads(--threads)`, TF the
same number of intra- and inter-op threads; batch 1 also runs with --callers
concurrent calls (the batch masks converged pairs but still computes them, so on a
CPU independent calls waste less). The first TF call (tracing, XLA
compilation) is timed apart and left out of pairs/s. Prints pairs/s (wall), CPU
seconds per pair (user + system of the child: steadier than wall time when the
machine is shared), peak MB and the ratios of each TF configuration to
cv2.optflow by both.

    .venv/bin/python benchmarks/tvl1_throughput.py [--threads 2] [--batches 1,8,32]
        [--variants opencv,tsn,denseflow] [--xla both] [--pairs 32] [--callers 2]
        [--device /GPU:0]
"""
import argparse
import json
import pathlib
import resource
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
CLIPS = ("demo.mp4", "part_0.mp4", "test.avi", "test_video_structuralize.mp4")
SIZE = (340, 256)


def real_pairs(count):
    """`count` grey uint8 pairs at 340x256, taken round-robin from the clips."""
    import cv2

    per_clip = -(-count // len(CLIPS))
    by_clip = []
    for name in CLIPS:
        capture = cv2.VideoCapture(str(DATA / name))
        frames = []
        while len(frames) < per_clip + 1:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), SIZE,
                                     interpolation=cv2.INTER_LINEAR))
        by_clip.append(list(zip(frames[:-1], frames[1:])))
    pairs = [p for group in zip(*by_clip) for p in group]
    while len(pairs) < count:
        pairs += pairs
    return pairs[:count]


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_opencv(kind, pairs, threads):
    """(0, wall seconds, CPU seconds) for all pairs with cv2 TV-L1 or DIS."""
    import cv2

    cv2.setNumThreads(threads)
    start, cpu = time.perf_counter(), cpu_seconds()
    for prev, nxt in pairs:
        if kind == "cv2_tvl1":
            cv2.optflow.DualTVL1OpticalFlow_create().calc(prev, nxt, None)
        else:
            cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(prev, nxt, None)
    return 0.0, time.perf_counter() - start, cpu_seconds() - cpu


def run_tf(variant, batch, xla, pairs, threads, device, callers=1):
    """(first-call seconds, wall and CPU seconds of the timed pairs) of tvl1_flow.

    `callers` > 1: that many Python threads call the function at once, each on its
    share of the batches (how tf.data's parallel map would run it).
    """
    from concurrent import futures

    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    from tsn_tf.ops import tvl1

    spec = tf.TensorSpec([batch, SIZE[1], SIZE[0]], tf.float32)
    fn = tf.function(lambda a, b: tvl1.tvl1_flow(a, b, variant), jit_compile=xla,
                     input_signature=[spec, spec])
    batches = [(np.stack([a for a, _ in pairs[i:i + batch]]).astype(np.float32),
                np.stack([b for _, b in pairs[i:i + batch]]).astype(np.float32))
               for i in range(0, len(pairs) - batch + 1, batch)]
    kind = device.strip("/").split(":")[0].upper()
    if not tf.config.list_logical_devices(kind):
        sys.exit(f"error: --device={device}: TensorFlow sees no {kind} here")
    with tf.device(device):
        start = time.perf_counter()
        fn(*batches[0]).numpy()
        first = time.perf_counter() - start
        start, cpu = time.perf_counter(), cpu_seconds()

        def work(share):
            for prev, nxt in share:
                fn(prev, nxt).numpy()
        with futures.ThreadPoolExecutor(callers) as pool:
            list(pool.map(work, [batches[i::callers] for i in range(callers)]))
    return first, time.perf_counter() - start, cpu_seconds() - cpu


def child(config):
    """Runs one configuration in this process; prints a JSON line."""
    pairs = real_pairs(config["pairs"])
    if config["kind"] == "tf":
        first, seconds, cpu = run_tf(config["variant"], config["batch"], config["xla"],
                                     pairs, config["threads"], config["device"],
                                     config["callers"])
    else:
        first, seconds, cpu = run_opencv(config["kind"], pairs, config["threads"])
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(dict(config, first=first, seconds=seconds, cpu_per_pair=cpu / len(pairs),
                          pairs_per_s=len(pairs) / seconds, peak_mb=peak_mb)))


def measure(config):
    """Result dict of `config` measured in a fresh child process."""
    done = subprocess.run([sys.executable, __file__, "--child", json.dumps(config)],
                          capture_output=True, text=True)
    if done.returncode:
        lines = done.stderr.strip().splitlines() or ["(no output)"]
        sys.exit(lines[-1] if lines[-1].startswith("error:") else f"error: {lines[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _positive_ints(text):
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers like 1,8,32; got {text!r}")
    return values


def _variants(text):
    names = text.split(",")
    unknown = [n for n in names if n not in ("opencv", "tsn", "denseflow")]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown variant {unknown[0]!r}; expected opencv, "
                                         "tsn or denseflow")
    return names


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2,
                        help="OpenCV threads = TF intra-op = TF inter-op threads")
    parser.add_argument("--batches", default="1,8,32", type=_positive_ints,
                        help="TF batch sizes, comma-separated")
    parser.add_argument("--variants", default="opencv,tsn,denseflow", type=_variants,
                        help="TF variants, comma-separated")
    parser.add_argument("--xla", choices=("both", "on", "off"), default="both",
                        help="TF with XLA (jit_compile), without, or both")
    parser.add_argument("--pairs", type=int, default=32,
                        help="pairs timed per configuration (rounded down to whole batches, "
                             "at least one batch)")
    parser.add_argument("--device", default="/CPU:0", help="TF device, e.g. /GPU:0")
    parser.add_argument("--callers", type=int, default=None,
                        help="also run batch 1 with this many concurrent calls (default: "
                             "--threads; 1 to skip)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    base = dict(threads=args.threads, device=args.device)
    print(f"{SIZE[0]}x{SIZE[1]} real pairs from tests/data, {args.threads} threads, "
          f"TF device {args.device}; each row a fresh process")
    print(f"{'configuration':30s} {'pairs':>5s} {'first s':>8s} {'pairs/s':>8s} "
          f"{'CPU s/pair':>10s} {'peak MB':>8s} {'/cv2 wall':>9s} {'/cv2 CPU':>9s}")
    results = {}
    for kind in ("cv2_tvl1", "dis"):
        results[kind] = measure(dict(base, kind=kind, pairs=args.pairs))
    reference = results["cv2_tvl1"]

    def row(label, result):
        print(f"{label:30s} {result['pairs']:5d} {result['first']:8.1f} "
              f"{result['pairs_per_s']:8.3f} {result['cpu_per_pair']:10.2f} "
              f"{result['peak_mb']:8.0f} "
              f"{result['pairs_per_s'] / reference['pairs_per_s']:8.2f}x "
              f"{reference['cpu_per_pair'] / result['cpu_per_pair']:8.2f}x", flush=True)

    row("cv2.optflow TV-L1", results["cv2_tvl1"])
    row("cv2 DIS MEDIUM", results["dis"])
    xla_modes = {"both": (False, True), "on": (True,), "off": (False,)}[args.xla]
    callers = args.threads if args.callers is None else args.callers
    runs = [(b, 1) for b in args.batches]
    if callers > 1:
        runs.append((1, callers))
    for variant in args.variants:
        for xla in xla_modes:
            for batch, parallel in runs:
                pairs = max(batch * parallel, args.pairs // batch * batch)
                result = measure(dict(base, kind="tf", variant=variant, batch=batch, xla=xla,
                                      pairs=pairs, callers=parallel))
                label = f"TF {variant} B={batch}" + (f" x{parallel} calls" if parallel > 1 else "")
                row(f"{label} {'XLA' if xla else 'graph'}", result)


if __name__ == "__main__":
    main()
