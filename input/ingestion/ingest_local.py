"""Local ingestion driver: every core of one machine, progress bar, resumable.

Workers are started with the `spawn` context (TensorFlow and fork don't mix)
and return serialized records; the parent process writes one shard at a time,
in plan order, so memory holds about one shard's worth of records. A worker
that dies (decoder crash, OOM killer) costs a rerun of the videos in flight,
not the run: the one that kills a worker twice is recorded as a failure.
"""
import collections
import concurrent.futures
import functools
import multiprocessing
import os
import sys
from typing import Dict, Optional, Sequence

from tsn_tf.input.ingestion import progress, shards
from tsn_tf.input.ingestion.lists import VideoEntry


def _init_worker(counter) -> None:
    """One OpenCV thread per worker process (the pool already fills the cores); a line
    of its own for the worker's in-video progress bar."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import cv2
    cv2.setNumThreads(1)
    with counter.get_lock():
        counter.value += 1
        progress.WORKER_POSITION = counter.value


CRASH_REASON = "worker process died while ingesting it (crash, or killed: out of memory?)"


def _run_until_broken(entries, start: int, stop: int, task, size: int):
    """Runs entries[start:stop] on `size` spawn workers, yielding results in order.

    Returns (as the generator's value) the index of the first entry without a
    result: `stop`, or where the pool broke because a worker process died.
    """
    context = multiprocessing.get_context("spawn")
    window = collections.deque()
    position = start
    with concurrent.futures.ProcessPoolExecutor(size, mp_context=context,
                                                initializer=_init_worker,
                                                initargs=(context.Value("i", 0),)) as pool:
        try:
            while position < stop or window:
                while position < stop and len(window) < 2 * size:
                    window.append(pool.submit(task, entries[position]))
                    position += 1
                result = window[0].result()
                window.popleft()
                yield result
        except concurrent.futures.process.BrokenProcessPool:
            return position - len(window)
    return stop


def ordered_results(entries, task, workers: int, log):
    """Yields results in entry order from a pool of `workers` spawn processes.

    If a worker dies (a crash in a decoder, the OOM killer), the videos that
    were in flight are rerun one at a time in a one-worker pool: those that
    succeed are kept, one that kills its worker again becomes a failure.
    """
    start, solo_until = 0, 0
    while start < len(entries):
        solo = start < solo_until
        stop = solo_until if solo else len(entries)
        reached = yield from _run_until_broken(entries, start, stop, task,
                                               1 if solo else workers)
        if reached < stop and solo:
            entry = entries[reached]
            yield shards.VideoResult(entry.media_id, entry.path, entry.split,
                                     entry.label_strings, reason=CRASH_REASON)
            reached += 1
        elif reached < stop:
            solo_until = min(reached + 2 * workers, len(entries))
            log(f"a worker process died; rerunning {solo_until - reached} videos one by one\n")
        start = reached


def _results(entries, task, workers: int, log):
    """Yields results in entry order, from worker processes (in-process if workers == 0)."""
    if workers == 0:
        return map(task, entries)
    return ordered_results(list(entries), task, workers, log)


def ingest_local(entries: Sequence[VideoEntry], label_map: Dict[str, int], output: str,
                 options, *, num_shards: Optional[int] = None,
                 videos_per_shard: Optional[int] = None, workers: Optional[int] = None,
                 retry_failures: bool = False, progress_stream=None) -> dict:
    """Ingests `entries` into shards under `output` and returns the manifest.

    workers: processes (default: all cores); 0 runs in this process.
    Complete shards from an earlier run with the same plan are kept as they
    are, unless `retry_failures` and they recorded failed videos.
    """
    workers = os.cpu_count() if workers is None else workers
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    specs = shards.plan_shards(entries, num_shards, videos_per_shard)
    shards.prepare_output(output, label_map)
    pending = shards.pending_shards(output, specs, label_map, options, retry_failures)
    todo = [entry for spec, _ in pending for entry in spec.entries]
    stream = progress_stream or sys.stderr
    bar = progress.videos_bar(len(todo), stream=stream)
    if len(pending) < len(specs):
        bar.write(f"resuming: {len(specs) - len(pending)} of {len(specs)} shards "
                  f"already complete in {output}", file=stream)
    task = functools.partial(shards.ingest_entry, label_map=label_map, options=options)
    results = _results(todo, task, workers, lambda text: bar.write(text.rstrip("\n"),
                                                                   file=stream))
    for spec, shard_fingerprint in pending:
        shards.remove_stale_temps(output, spec)
        shards.write_shard(output, spec, _counted(results, len(spec.entries), bar),
                           shard_fingerprint)
    bar.close()
    return shards.build_manifest(output, specs, label_map, options)


def _counted(results, count: int, bar):
    """The next `count` results, ticking the progress bar for each."""
    for _ in range(count):
        result = next(results)
        progress.count_video(bar, failed=not result.ok)
        yield result
