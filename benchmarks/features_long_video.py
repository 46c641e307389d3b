"""tsn-features on a long video: wall time and peak memory beside a short one, same run.

    .venv/bin/python benchmarks/features_long_video.py [--minutes 1,10] [--interval 16]

Builds one shard per length from tests/data/demo.mp4 at 340x256, 30 fps (its
280 frames played forwards then backwards, repeated; RGB JPEGs at quality 95
and DIS flow quantized with bound 20, as tsn-ingest writes them, each distinct
frame encoded once), and tiny-backbone RGB and flow runs at 224x224 (drawn
weights, as the tests make them). Then runs tsn-features (a fresh process
each, RGB + flow, --interval 16, centre crop, --outputs=both) on each shard
and prints wall seconds, snippets/s and the peak resident memory of the
process (its VmHWM at exit), and the long video's ratios over the
short one: memory should stay flat (chunks of --snippets_per_chunk
snippets), time should grow with the snippets.
"""
import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402

from export_helpers import save_drawn_weights  # noqa: E402
from tsn_tf.input.contract import layout, schema  # noqa: E402
from tsn_tf.input.ingestion import flow as flow_lib  # noqa: E402
from tsn_tf.input.ingestion import video  # noqa: E402
from tsn_tf.trainers import model_dir as model_dir_lib  # noqa: E402

CLIP = pathlib.Path(__file__).resolve().parents[1] / "tests" / "data" / "demo.mp4"
FPS = 30.0


def clip_frames():
    """(RGB JPEGs, flow x JPEGs, flow y JPEGs) of the clip forwards then backwards (a loop)."""
    with video.VideoReader(CLIP, size=(340, 256)) as reader:
        decoded = list(reader)
    loop = decoded + decoded[-2:0:-1]
    quality = [cv2.IMWRITE_JPEG_QUALITY, 95]
    rgb = [cv2.imencode(".jpg", frame, quality)[1].tobytes() for frame in loop]
    estimator, flow_x, flow_y = flow_lib.FlowEstimator("dis"), [], []
    grays = [cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) for frame in loop]
    for prev, nxt in zip(grays, grays[1:] + grays[:1]):
        x, y = flow_lib.quantize_flow(estimator(prev, nxt), 20.0)
        flow_x.append(cv2.imencode(".jpg", x, quality)[1].tobytes())
        flow_y.append(cv2.imencode(".jpg", y, quality)[1].tobytes())
    return rgb, flow_x, flow_y


def write_shard(path, minutes, frames):
    rgb, flow_x, flow_y = frames
    count = int(minutes * 60 * FPS)
    pick = [i % len(rgb) for i in range(count)]
    record = schema.VideoRecord(
            media_id=f"video_{minutes:g}min", label_indices=[0], label_strings=["c0"],
            height=256, width=340, frame_rate=FPS, rgb_jpegs=[rgb[i] for i in pick],
            timestamps_us=[int(i * 1e6 / FPS) for i in range(count)],
            flow_x_jpegs=[flow_x[i] for i in pick[:-1]],
            flow_y_jpegs=[flow_y[i] for i in pick[:-1]], flow_bound=20.0, flow_algorithm="dis")
    layout.write_shard_file(str(path), [schema.to_sequence_example(record)])
    return count


def make_run(folder, modality):
    config = model_dir_lib.RunConfig(num_classes=200, backbone="tiny", modality=modality,
                                     num_segments=1, input_size=224, rgb_mean=(104, 117, 123),
                                     rgb_std=(1, 1, 1), flow_mean=128.0, flow_std=1.0)
    config.save(str(folder))
    model_dir_lib.write_label_map(str(folder), [f"class {i}" for i in range(200)])
    save_drawn_weights(config.build_model(), folder)
    return str(folder)


# tsn-features' own peak: VmHWM at exit (ru_maxrss would carry this parent's, which holds
# the frames, over fork and exec).
RUN_AND_REPORT_PEAK = """
import atexit, runpy, sys
def report():
    peak = next(line.split()[1] for line in open("/proc/self/status")
                if line.startswith("VmHWM:"))
    open(sys.argv.pop(1), "w").write(peak)
atexit.register(report)
sys.argv[0] = "tsn-features"
runpy.run_module("tsn_tf.trainers.features", run_name="__main__")
"""


def run_features(shard, runs, output, args):
    """(wall s, peak resident MB) of one tsn-features process."""
    peak_file = pathlib.Path(output).with_suffix(".peak")
    command = [sys.executable, "-c", RUN_AND_REPORT_PEAK, str(peak_file), f"--shards={shard}",
               f"--streams=rgb:{runs[0]},flow:{runs[1]}", f"--output_dir={output}",
               f"--interval={args.interval}", "--outputs=both",
               f"--snippets_per_chunk={args.snippets_per_chunk}"]
    start = time.perf_counter()
    result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"tsn-features failed: {result.stderr.decode()[-2000:]}")
    return wall, int(peak_file.read_text()) / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", default="1,10", help="video lengths, comma separated")
    parser.add_argument("--interval", type=int, default=16)
    parser.add_argument("--snippets_per_chunk", type=int, default=32)
    args = parser.parse_args()
    lengths = [float(m) for m in args.minutes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        frames = clip_frames()
        runs = [make_run(tmp / name, name) for name in ("rgb", "flow")]
        rows = []
        for minutes in lengths:
            shard = tmp / f"video_{minutes:g}min.tfrecord"
            count = write_shard(shard, minutes, frames)
            snippets = len(range(args.interval // 2, count - 1, args.interval))
            wall, peak = run_features(shard, runs, tmp / f"out_{minutes:g}", args)
            rows.append((minutes, count, snippets, wall, peak))
            print(f"{minutes:g} min ({count} frames, {snippets} snippets): wall {wall:.1f} s, "
                  f"{snippets / wall:.1f} snippets/s, peak memory {peak:.0f} MB", flush=True)
    first = rows[0]
    for minutes, _, snippets, wall, peak in rows[1:]:
        print(f"{minutes:g} min over {first[0]:g} min: snippets x{snippets / first[2]:.1f}, "
              f"wall x{wall / first[3]:.2f}, peak memory x{peak / first[4]:.2f}")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
