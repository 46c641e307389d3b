"""Progress bars on stderr, drawn by tqdm: done/total, rate, ETA.

`videos_bar` counts the videos of an ingestion run (and its failures);
`pairs_bar` counts the flow pairs inside one video, the slow part of TV-L1
(about 2 s per 340x256 pair on one core, see README), and stays hidden for
videos that finish within `delay` seconds. A process that runs next to
others (ingestion workers) sets `WORKER_POSITION` so its bar gets its own
terminal line. In a log file or pipe each redraw (every 10 s) is a line.
"""
import sys

from tqdm import tqdm

WORKER_POSITION = None  # set in a worker process: its bar's line below the main bar
PAIRS_BAR_DELAY_S = 2.0  # ingestion: a video's pairs bar appears once it has taken this long
FORMAT = ("{desc}{percentage:3.0f}%|{bar:20}| {n_fmt}/{total_fmt} {unit}s "
          "{rate_fmt} ETA {remaining} elapsed {elapsed}{postfix}")


def _is_tty(stream) -> bool:
    return getattr(stream, "isatty", lambda: False)()


class _Lines:
    """A log file or pipe: each redraw of a bar on its own line, without cursor moves."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        text = text.replace("\r", "").replace("\x1b[A", "").strip()
        if text:
            self._stream.write(text + "\n")

    def flush(self):
        self._stream.flush()


def _output(stream):
    stream = stream if stream is not None else sys.stderr
    return (stream, 0.1) if _is_tty(stream) else (_Lines(stream), 10.0)


def bar(total: int, unit: str, postfix: str = "", stream=None) -> tqdm:
    """A bar of `total` `unit`s with a `postfix` text after the ETA."""
    stream, interval = _output(stream)
    return tqdm(total=total, file=stream, unit=unit, bar_format=FORMAT, dynamic_ncols=True,
                mininterval=interval, postfix=postfix)


def videos_bar(total: int, stream=None) -> tqdm:
    """The bar of an ingestion run; `count_video` ticks it."""
    videos = bar(total, "video", "failures 0", stream)
    videos.failures = 0
    return videos


def count_video(bar: tqdm, failed: bool = False):
    """One more video done (and failed)."""
    bar.failures += int(failed)
    bar.set_postfix_str(f"failures {bar.failures}", refresh=False)
    bar.update(1)


def pairs_bar(total, description: str, stream=None, delay: float = PAIRS_BAR_DELAY_S) -> tqdm:
    """Flow pairs done inside one video, shown once the video has taken `delay` s."""
    stream, interval = _output(stream)
    return tqdm(total=total, file=stream, unit="pair", desc=f"{description} flow: ",
                bar_format=FORMAT, delay=delay, leave=WORKER_POSITION is None,
                position=WORKER_POSITION, dynamic_ncols=True, mininterval=interval)
