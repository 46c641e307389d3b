"""Ingestion scaling: total videos/s of the local driver on 2 worker processes vs 1.

Copies one real clip N times into a temp dataset, ingests it with
`ingest_local` (spawn pool, OpenCV single-threaded per worker) once per worker
count, and prints the end-to-end rate (pool start-up included), the
steady-state rate (start-up, measured separately, subtracted) and the ratios.
The machine may be shared: it also prints the CPU seconds the workers and the
parent used, and the CPU each worker got per wall second (1.0 = a full core),
so a ratio under 2 can be told apart from cores that were busy elsewhere,
and the worker CPU seconds per video, from which the scaling on idle cores
follows (2 x the ratio of per-video CPU on 1 and on 2 workers).

  python benchmarks/ingest_scaling.py --videos=16 --clip=tests/data/part_0.mp4 --flow=dis
"""
import argparse
import io
import multiprocessing
import os
import pathlib
import resource
import shutil
import tempfile
import time

from tsn_tf.input.ingestion import encode, ingest_local, lists

DEFAULT_CLIP = pathlib.Path(__file__).resolve().parents[1] / "tests" / "data" / "part_0.mp4"


def _import_worker_modules(_):
    from tsn_tf.input.ingestion import encode as _  # noqa: F401  (TensorFlow, OpenCV)
    return os.getpid()


def pool_startup(workers: int):
    """(wall s, CPU s) to spawn `workers` processes that import the per-video code."""
    cpu = _cpu_seconds(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pool.map(_import_worker_modules, range(workers), chunksize=1)
    return time.perf_counter() - started, _cpu_seconds(resource.RUSAGE_CHILDREN) - cpu


def make_dataset(root: pathlib.Path, clip: pathlib.Path, count: int):
    (root / "videos" / "clip").mkdir(parents=True)
    rows = []
    for i in range(count):
        shutil.copy(clip, root / "videos" / "clip" / f"{i:03d}{clip.suffix}")
        rows.append(f"clip/{i:03d}{clip.suffix},clip")
    (root / "list.csv").write_text("\n".join(rows) + "\n")
    return lists.parse_csv(str(root / "list.csv"), str(root / "videos"))


def _cpu_seconds(who) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def measure(video_list, options, workers: int, output: str):
    """(wall s, worker CPU s, parent CPU s) of one full ingest with `workers` processes."""
    children, parent = _cpu_seconds(resource.RUSAGE_CHILDREN), _cpu_seconds(resource.RUSAGE_SELF)
    started = time.perf_counter()
    manifest = ingest_local.ingest_local(video_list.entries, video_list.label_map, output,
                                         options, num_shards=workers, workers=workers,
                                         progress_stream=io.StringIO())
    seconds = time.perf_counter() - started
    assert manifest["num_failures"] == 0, manifest["failures"]
    return (seconds, _cpu_seconds(resource.RUSAGE_CHILDREN) - children,
            _cpu_seconds(resource.RUSAGE_SELF) - parent)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=16, help="copies of the clip")
    parser.add_argument("--clip", type=pathlib.Path, default=DEFAULT_CLIP, help="video file")
    parser.add_argument("--flow", default="dis", choices=["tvl1", "dis", "farneback"])
    args = parser.parse_args()
    options = encode.IngestOptions(flow_algorithm=args.flow)
    with tempfile.TemporaryDirectory() as temp:
        root = pathlib.Path(temp)
        video_list = make_dataset(root, args.clip, args.videos)
        rows = {}
        for workers in (1, 2):
            startup, startup_cpu = pool_startup(workers)
            total, worker_cpu, parent_cpu = measure(video_list, options, workers,
                                                    str(root / f"out{workers}"))
            rows[workers] = (args.videos / total, args.videos / max(total - startup, 1e-9),
                             total, startup, worker_cpu, parent_cpu,
                             worker_cpu / total / workers,
                             (worker_cpu - startup_cpu) / args.videos)
    print(f"clip {args.clip.name} x {args.videos}, flow {args.flow}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'workers':>8} {'videos/s':>9} {'steady videos/s':>16} {'wall s':>7} "
          f"{'startup s':>10} {'worker cpu s':>13} {'parent cpu s':>13} {'cpu/worker':>11}")
    for workers, row in rows.items():
        print(f"{workers:>8} {row[0]:>9.2f} {row[1]:>16.2f} {row[2]:>7.1f} {row[3]:>10.1f} "
              f"{row[4]:>13.1f} {row[5]:>13.1f} {row[6]:>11.2f}")
    print(f"scaling 2 vs 1 workers: {rows[2][0] / rows[1][0]:.2f}x end to end, "
          f"{rows[2][1] / rows[1][1]:.2f}x steady state")
    print(f"worker CPU s per video (start-up excluded): {rows[1][7]:.3f} on 1 worker, "
          f"{rows[2][7]:.3f} on 2; on 2 idle cores the steady state would scale "
          f"{2 * rows[1][7] / rows[2][7]:.2f}x")


if __name__ == "__main__":
    main()
