"""Clips/s of an endless iterator, wall and cpu-normalized (no TensorFlow: also
run by the child processes the benchmarks time, e.g. tsn_pytorch_loader.py)."""
import os
import time

WARM_UP_SECONDS = 1.5


def _live_children_seconds():
    """CPU seconds so far of this process's live child processes (from /proc)."""
    parent, total = os.getpid(), 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        if int(fields[1]) == parent:  # ppid; utime, stime are fields 14, 15 of stat
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def cpu_seconds():
    """CPU seconds of this process and all its children, exited or live."""
    times = os.times()
    return (times.user + times.system + times.children_user + times.children_system
            + _live_children_seconds())


def clips_per_second(batches, clips_per_batch, seconds):
    """(wall, cpu-normalized) clips/s of the endless iterator `batches`, counted for
    `seconds` after a 1.5 s warm-up.

    The cpu-normalized rate is clips per CPU-second of this process and its
    children (e.g. DataLoader workers) times the number of cores: what all
    cores would give if nobody else used them. On a shared machine it is the
    steadier of the two.
    """
    start = time.perf_counter()
    while time.perf_counter() - start < WARM_UP_SECONDS:
        next(batches)
    count, start, cpu_start = 0, time.perf_counter(), cpu_seconds()
    while time.perf_counter() - start < seconds:
        next(batches)
        count += 1
    clips = count * clips_per_batch
    wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
    return clips / wall, clips / cpu * os.cpu_count()
