"""Cost of a training step with K = 7 segments against K = 3 (the TPAMI paper's K vs the ECCV one).

Each (modality, K) runs in a fresh process: `tsn_tf.model.build_tsn` with the
real backbone (partial BN, dropout, average consensus), one compiled SGD
step (momentum 0.9, the loss on random clips), `--warmup` steps then the
mean of `--steps` timed steps. Prints process CPU seconds per step (the
machine is shared; wall time counts waiting for a core), wall seconds, and
memory: the peak resident size over the steps minus the resident size
before the first step (activations, gradients, optimizer slots and the
compiled step). Ratios are K = 7 over K = 3, measured side by side.

    .venv/bin/python benchmarks/segments_cost.py [--backbone bn_inception] [--input_size 224]
        [--batch_size 2] [--steps 3]
"""
import argparse
import json
import resource
import subprocess
import sys
import time

SEGMENTS = (3, 7)
MODALITIES = ("rgb", "flow")


def _resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def measure(args, modality: str, num_segments: int) -> dict:
    """One (modality, K) in this process: seconds per step and memory in MB."""
    import numpy as np
    import keras
    import tensorflow as tf
    from tsn_tf.model import build_tsn

    model = build_tsn(101, backbone=args.backbone, modality=modality, num_segments=num_segments,
                      input_size=args.input_size)
    optimizer = keras.optimizers.SGD(0.001, momentum=0.9)
    channels = model.input_shape[-1]
    rng = np.random.default_rng(0)
    clips = tf.constant(rng.uniform(-1, 1, (args.batch_size, num_segments, args.input_size,
                                            args.input_size, channels)).astype("float32"))
    labels = tf.constant(rng.integers(0, 101, args.batch_size))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
                    labels, model(clips, training=True), from_logits=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    before = _resident_mb()
    for _ in range(args.warmup):
        step().numpy()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(args.steps):
        step().numpy()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"cpu_s": cpu / args.steps, "wall_s": wall / args.steps, "memory_mb": peak - before}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="bn_inception")
    parser.add_argument("--input_size", type=int, default=224)
    parser.add_argument("--batch_size", type=int, default=2, help="clips per step")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--one", nargs=2, metavar=("MODALITY", "K"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args, args.one[0], int(args.one[1]))))
        return
    print(f"{args.backbone}, {args.input_size}x{args.input_size}, {args.batch_size} clips per "
          f"step, mean of {args.steps} steps after {args.warmup}")
    print("| modality | K | CPU s/step | wall s/step | step memory MB | CPU ratio | memory ratio |")
    print("|---|---|---|---|---|---|---|")
    for modality in MODALITIES:
        results = {}
        for num_segments in SEGMENTS:
            output = subprocess.run(
                    [sys.executable, __file__, "--one", modality, str(num_segments)]
                    + sys.argv[1:], check=True, capture_output=True, text=True).stdout
            results[num_segments] = json.loads(output.strip().splitlines()[-1])
        base = results[SEGMENTS[0]]
        for num_segments, result in results.items():
            print(f"| {modality} | {num_segments} | {result['cpu_s']:.2f} | "
                  f"{result['wall_s']:.2f} | {result['memory_mb']:.0f} | "
                  f"{result['cpu_s'] / base['cpu_s']:.2f} | "
                  f"{result['memory_mb'] / base['memory_mb']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
