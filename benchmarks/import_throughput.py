"""Frame-folder import MB/s beside `cat` reading the same files, in the same run.

Builds a dense_flow folder tree (img_/flow_x_/flow_y_%05d.jpg from 1, N RGB and
N - 1 flow) from a real clip (demo.mp4 at 340x256, RGB at JPEG quality 95 and
DIS flow quantized with bound 20, as the extractors write them), then times,
interleaved, best of `--repeats`:
  cat    - `find DIR -type f -print0 | xargs -0 cat > /dev/null`;
  import - `ingest_local` with `rawframes.ImportOptions()` in this process
           (list parsing, folder listing, reading, JPEG header checks, records,
           the shard written), the work tsn-ingest --frames_dir does per video.
MB/s counts the input files' bytes for both. Warm page cache by default (each
timed run follows a run that read the files); `--drop_caches` (root) drops it
before every timed run instead, so both read from disk.

    .venv/bin/python benchmarks/import_throughput.py [--videos 24] [--frames 120]
"""
import argparse
import io
import os
import pathlib
import shutil
import subprocess
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402

from tsn_tf.input.ingestion import flow, ingest_local, lists, rawframes, video  # noqa: E402

CLIP = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "demo.mp4"


def build_tree(root: pathlib.Path, videos: int, frames: int) -> str:
    """`videos` folders of `frames` RGB and `frames - 1` flow pairs; returns the list file."""
    with video.VideoReader(CLIP, size=(340, 256)) as reader:
        decoded = list(reader)
    estimator = flow.FlowEstimator("dis")
    quality = [cv2.IMWRITE_JPEG_QUALITY, 95]
    lines = []
    for number in range(videos):
        folder = root / "frames" / f"v_{number:03d}"
        folder.mkdir(parents=True)
        clip = [decoded[(number * 7 + i) % len(decoded)] for i in range(frames)]
        grays = [cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) for frame in clip]
        for i, frame in enumerate(clip, 1):
            (folder / f"img_{i:05d}.jpg").write_bytes(cv2.imencode(".jpg", frame, quality)[1])
        for i, (prev, nxt) in enumerate(zip(grays[:-1], grays[1:]), 1):
            flow_x, flow_y = flow.quantize_flow(estimator(prev, nxt), 20.0)
            (folder / f"flow_x_{i:05d}.jpg").write_bytes(cv2.imencode(".jpg", flow_x, quality)[1])
            (folder / f"flow_y_{i:05d}.jpg").write_bytes(cv2.imencode(".jpg", flow_y, quality)[1])
        lines.append(f"v_{number:03d} {frames} {number % 5}\n")
    list_file = root / "bench_train_split_1.txt"
    list_file.write_text("".join(lines))
    return str(list_file)


def drop_caches():
    subprocess.run(["sync"], check=True)
    pathlib.Path("/proc/sys/vm/drop_caches").write_text("3\n")


def time_cat(frames_dir: pathlib.Path) -> float:
    start = time.perf_counter()
    subprocess.run(f"find {frames_dir} -type f -print0 | xargs -0 cat > /dev/null",
                   shell=True, check=True)
    return time.perf_counter() - start


def time_import(root: pathlib.Path, list_file: str) -> float:
    output = root / "shards"
    shutil.rmtree(output, ignore_errors=True)
    start = time.perf_counter()
    video_list = lists.load_list("rawframes", [list_file], str(root / "frames"))
    manifest = ingest_local.ingest_local(video_list.entries, video_list.label_map, str(output),
                                         rawframes.ImportOptions(), videos_per_shard=100,
                                         workers=0, progress_stream=io.StringIO())
    seconds = time.perf_counter() - start
    assert not manifest["failures"], manifest["failures"][:1]
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--frames", type=int, default=120, help="RGB frames per video")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--drop_caches", action="store_true",
                        help="drop the page cache before each timed run (root)")
    parser.add_argument("--dir", default=None, help="work folder (default: a temp folder)")
    args = parser.parse_args()
    root = pathlib.Path(args.dir or tempfile.mkdtemp(prefix="import_bench_"))
    shutil.rmtree(root / "frames", ignore_errors=True)
    list_file = build_tree(root, args.videos, args.frames)
    files = [p for p in (root / "frames").rglob("*") if p.is_file()]
    megabytes = sum(p.stat().st_size for p in files) / 1e6
    print(f"{len(files)} files ({args.videos} folders x {args.frames} RGB + "
          f"{args.frames - 1} flow x/y), {megabytes:.1f} MB; page cache: "
          f"{'dropped before each run' if args.drop_caches else 'warm'}")
    best = {"cat": float("inf"), "import": float("inf")}
    for _ in range(args.repeats):
        for name, run in (("cat", lambda: time_cat(root / "frames")),
                          ("import", lambda: time_import(root, list_file))):
            if args.drop_caches:
                drop_caches()
            else:
                time_cat(root / "frames")  # warm
            best[name] = min(best[name], run())
    rates = {name: megabytes / seconds for name, seconds in best.items()}
    print(f"cat    {rates['cat']:8.1f} MB/s  ({best['cat']:.3f} s)")
    print(f"import {rates['import']:8.1f} MB/s  ({best['import']:.3f} s, one process, "
          f"shard written)")
    print(f"import / cat = {rates['import'] / rates['cat']:.2f}")
    if not args.dir:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
