"""Module-level tasks for worker-pool tests (spawn workers import them by name)."""
import os
import signal

from tsn_tf.input.ingestion import shards


def ok_unless_named_crash(entry):
    """A result for `entry`; kills its own process (like a decoder segfault) for 'crash*'."""
    if entry.media_id.startswith("crash"):
        os.kill(os.getpid(), signal.SIGKILL)
    return shards.VideoResult(entry.media_id, entry.path, entry.split, entry.label_strings,
                              num_frames=os.getpid())
