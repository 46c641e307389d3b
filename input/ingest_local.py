"""Local ingestion driver: every core of one machine, progress bar, resumable.

Workers are started with the `spawn` context (TensorFlow and fork don't mix)
and return serialized records; the parent process writes one shard at a time,
in plan order, so memory holds one shard's worth of records at most.
"""
import functools
import multiprocessing
import os
import sys
from typing import Dict, Optional, Sequence

from tsn_tf.input import progress, shards
from tsn_tf.input.lists import VideoEntry


def _init_worker() -> None:
    """One OpenCV thread per worker process: the pool already fills the cores."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import cv2
    cv2.setNumThreads(1)


def _results(entries, task, workers: int):
    """Yields results in entry order, from a spawn pool (or in-process if workers == 0)."""
    if workers == 0:
        yield from map(task, entries)
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_init_worker) as pool:
        yield from pool.imap(task, entries, chunksize=1)


def ingest_local(entries: Sequence[VideoEntry], label_map: Dict[str, int], output: str,
                 options, *, num_shards: Optional[int] = None,
                 videos_per_shard: Optional[int] = None, workers: Optional[int] = None,
                 progress_stream=None) -> dict:
    """Ingests `entries` into shards under `output` and returns the manifest.

    workers: processes (default: all cores); 0 runs in this process.
    Complete shards from an earlier run with the same plan are kept as they are.
    """
    workers = os.cpu_count() if workers is None else workers
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    specs = shards.plan_shards(entries, num_shards, videos_per_shard)
    shards.prepare_output(output, label_map)
    pending = shards.pending_shards(output, specs, label_map, options)
    todo = [entry for spec, _ in pending for entry in spec.entries]
    bar = progress.ProgressBar(len(todo), stream=progress_stream or sys.stderr)
    if len(pending) < len(specs):
        bar.stream.write(f"resuming: {len(specs) - len(pending)} of {len(specs)} shards "
                         f"already complete in {output}\n")
    task = functools.partial(shards.ingest_entry, label_map=label_map, options=options)
    results = _results(todo, task, workers)
    for spec, shard_fingerprint in pending:
        shards.remove_stale_temps(output, spec)
        shards.write_shard(output, spec, _counted(results, len(spec.entries), bar),
                           shard_fingerprint)
    results.close()
    bar.close()
    return shards.build_manifest(output, specs, label_map, options)


def _counted(results, count: int, bar: progress.ProgressBar):
    """The next `count` results, ticking the progress bar for each."""
    for _ in range(count):
        result = next(results)
        bar.update(failed=not result.ok)
        yield result
