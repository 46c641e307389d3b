"""A small text progress bar for stderr: done/total, items/s, ETA, failures."""
import sys
import time


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class ProgressBar:
    """Redraws one line on a terminal; prints a line every `log_interval` s otherwise."""

    def __init__(self, total: int, stream=None, unit: str = "videos", width: int = 30,
                 log_interval: float = 10.0):
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.unit = unit
        self.width = width
        self.log_interval = log_interval
        self.done = 0
        self.failures = 0
        self.started = time.perf_counter()
        self._last_draw = 0.0
        self._is_tty = getattr(self.stream, "isatty", lambda: False)()

    def line(self) -> str:
        elapsed = time.perf_counter() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        remaining = (self.total - self.done) / rate if rate > 0 else float("nan")
        filled = int(self.width * self.done / self.total) if self.total else self.width
        eta = format_seconds(remaining) if remaining == remaining else "?"
        return (f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} "
                f"{self.unit} {rate:.2f} {self.unit}/s ETA {eta} "
                f"elapsed {format_seconds(elapsed)} failures {self.failures}")

    def update(self, count: int = 1, failed: bool = False) -> None:
        self.done += count
        self.failures += int(failed)
        now = time.perf_counter()
        interval = 0.1 if self._is_tty else self.log_interval
        if now - self._last_draw >= interval or self.done >= self.total:
            self._draw()
            self._last_draw = now

    def _draw(self) -> None:
        if self._is_tty:
            self.stream.write("\r" + self.line())
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._is_tty:
            self.stream.write("\n")
            self.stream.flush()
