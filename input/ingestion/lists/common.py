"""What every list format shares: `VideoEntry`, `VideoList`, label maps, split names,
`ListFormatError`, and finding video files by stem (`VideoIndex`).
"""
import dataclasses
import os
import re
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from tsn_tf.input.ingestion import storage

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg",
                    ".flv", ".wmv", ".3gp")
SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "validation": "val",
               "valid": "val", "test": "test", "testing": "test"}


class ListFormatError(ValueError):
    """A list file line that cannot be used, named by file and line number."""

    def __init__(self, where: str, message: str, text: str = ""):
        self.where = where
        self.text = text
        shown = f" (got {text!r})" if text else ""
        super().__init__(f"{where}: {message}{shown}")


@dataclasses.dataclass(frozen=True)
class VideoEntry:
    """One video to ingest.

    segments: (start_s, end_s, label) per annotated action, for untrimmed sets.
    line: "file:line" the entry came from, for error messages.
    """
    media_id: str
    path: str
    label_strings: Tuple[str, ...]
    split: str
    segments: Tuple[Tuple[float, float, str], ...] = ()
    line: str = ""


class VideoList(NamedTuple):
    entries: List[VideoEntry]
    label_map: Dict[str, int]


# --- label maps --------------------------------------------------------------

def build_label_map(names: Iterable[str]) -> Dict[str, int]:
    """Sorted unique class names -> 0-based index."""
    return {name: index for index, name in enumerate(sorted(set(names)))}


def format_label_map(label_map: Dict[str, int]) -> str:
    """label_map.txt text: one class name per line, line i is index i."""
    names = sorted(label_map, key=label_map.get)
    if [label_map[n] for n in names] != list(range(len(names))):
        raise ValueError(f"label map indices are not 0..{len(names) - 1}: {label_map}")
    return "".join(f"{name}\n" for name in names)


def read_label_map(path: str) -> Dict[str, int]:
    """Reads a label map: "name" per line (0-based order), or UCF101 "index name" lines.

    Numbered lines ("1 ApplyEyeMakeup") are taken as 1-based if the first one
    is 1 (classInd.txt) and 0-based if it is 0.
    """
    lines = [(n, t.strip()) for n, t in enumerate(storage.read_text(path).splitlines(), 1)]
    lines = [(n, t) for n, t in lines if t]
    if not lines:
        raise ListFormatError(path, "empty label map; expected one class name per line")
    numbered = all(re.match(r"^\d+\s+\S", t) for _, t in lines)
    label_map = {}
    base = int(lines[0][1].split()[0]) if numbered else 0
    if numbered and base not in (0, 1):
        raise ListFormatError(f"{path}:{lines[0][0]}", "numbered label map must start at 0 or 1",
                              lines[0][1])
    for position, (number, text) in enumerate(lines):
        where = f"{path}:{number}"
        if numbered:
            index_text, name = text.split(None, 1)
            name = name.strip()
            if int(index_text) - base != position:
                raise ListFormatError(where, f"expected class number {position + base}", text)
        else:
            name = text
        if name in label_map:
            raise ListFormatError(where, f"duplicate class name {name!r}", text)
        label_map[name] = position
    return label_map


def check_labels(labels: Sequence[str], label_map: Optional[Dict[str, int]], where: str,
                  text: str) -> None:
    if label_map is None:
        return
    for label in labels:
        if label not in label_map:
            raise ListFormatError(where, f"unknown label {label!r}; the label map has "
                                  f"{len(label_map)} classes", text)


def finish(entries: List[VideoEntry], label_map: Optional[Dict[str, int]]) -> VideoList:
    """Checks ids are unique and builds the sorted label map if none was given."""
    seen = {}
    for entry in entries:
        if entry.media_id in seen:
            raise ListFormatError(entry.line, f"duplicate video id {entry.media_id!r}, "
                                  f"first listed at {seen[entry.media_id]}")
        seen[entry.media_id] = entry.line
    if label_map is None:
        names = [label for e in entries for label in e.label_strings]
        names += [segment[2] for e in entries for segment in e.segments]
        label_map = build_label_map(names)
    return VideoList(entries, dict(label_map))


def numbered_lines(path: str):
    """(where, text) for every non-blank line of a list file."""
    for number, text in enumerate(storage.read_text(path).splitlines(), 1):
        if text.strip():
            yield f"{path}:{number}", text.strip()


def split_of(name: str, where: str) -> str:
    split = SPLIT_NAMES.get(name.strip().lower())
    if split is None:
        raise ListFormatError(where, f"unknown split; expected one of {sorted(SPLIT_NAMES)}",
                              name)
    return split


# --- video file lookup ---------------------------------------------------------

class VideoIndex:
    """File stem -> path for every video under a folder (found once, by walking it)."""

    def __init__(self, video_dir: str):
        self.video_dir = video_dir
        self._paths: Dict[str, List[str]] = {}
        if storage.exists(video_dir):
            for path in storage.walk_files(video_dir):
                stem, extension = os.path.splitext(os.path.basename(path))
                if extension.lower() in VIDEO_EXTENSIONS:
                    self._paths.setdefault(stem, []).append(path)

    def find(self, stems: Sequence[str], default_extension: str = ".mp4") -> str:
        """Path of the first stem that exists; if none, where the first would be."""
        for stem in stems:
            paths = self._paths.get(stem)
            if paths:
                if len(paths) > 1:
                    raise ValueError(f"video {stem!r} is ambiguous under {self.video_dir}: "
                                     f"{paths}; keep one file per id")
                return paths[0]
        return storage.join(self.video_dir, stems[0] + default_extension)
