"""CSV lists: Kinetics' `label,youtube_id,time_start,time_end,split` and the generic
`path,label[;label...][,split]`."""
import csv
import io
import os
import re
from typing import Dict, Optional, Sequence

from tsn_tf.input.ingestion import storage
from tsn_tf.input.ingestion.lists.common import (
    SPLIT_NAMES, ListFormatError, VideoEntry, VideoIndex, VideoList, check_labels, finish,
    split_of)


def kinetics_media_id(youtube_id: str, start: int, end: int) -> str:
    """The downloaders' file stem: `<youtube_id>_<start:06d>_<end:06d>`."""
    return f"{youtube_id}_{start:06d}_{end:06d}"


def _csv_rows(path: str):
    """(where, row dict, text) for each data row of a CSV file with a header."""
    text = storage.read_text(path)
    lines = text.splitlines()
    reader = csv.DictReader(io.StringIO(text))
    for row in reader:
        where = f"{path}:{reader.line_num}"
        yield where, row, lines[reader.line_num - 1] if reader.line_num <= len(lines) else ""


def parse_kinetics(csv_files: Sequence[str], video_dir: str,
                   label_map: Optional[Dict[str, int]] = None) -> VideoList:
    """Kinetics CSV: `label,youtube_id,time_start,time_end,split` (label may be absent
    for the test set). Files are found anywhere under `video_dir` by their stem
    `<youtube_id>_<start:06d>_<end:06d>`.
    """
    index = VideoIndex(video_dir)
    entries = []
    for csv_file in csv_files:
        for where, row, text in _csv_rows(csv_file):
            if None in row or any(v is None for v in row.values()):
                raise ListFormatError(where, "wrong number of fields; expected "
                                      "label,youtube_id,time_start,time_end,split", text)
            missing = {"youtube_id", "time_start", "time_end"} - set(row)
            if missing:
                raise ListFormatError(where, f"header lacks {sorted(missing)}; expected "
                                      "label,youtube_id,time_start,time_end,split", text)
            try:
                start, end = int(float(row["time_start"])), int(float(row["time_end"]))
            except ValueError:
                raise ListFormatError(where, "time_start and time_end must be numbers",
                                      text) from None
            if end <= start or start < 0:
                raise ListFormatError(where, "expected 0 <= time_start < time_end", text)
            label = (row.get("label") or "").strip()
            labels = (label,) if label else ()
            check_labels(labels, label_map, where, text)
            split = split_of(row.get("split") or "train", where)
            media_id = kinetics_media_id(row["youtube_id"].strip(), start, end)
            entries.append(VideoEntry(media_id, index.find([media_id]), labels, split,
                                      line=where))
    return finish(entries, label_map)


# --- generic CSV

_SPLIT_IN_NAME = re.compile(r"(?:^|[^a-z])(train|training|val|validation|test|testing)"
                            r"(?:[^a-z]|$)")


def split_from_file_name(path: str, default: str = "train") -> str:
    """"train" for train.csv or ucf_trainlist.csv, "test" for test.csv, "val" for val.csv..."""
    match = _SPLIT_IN_NAME.search(os.path.basename(path).lower())
    return SPLIT_NAMES[match.group(1)] if match else default


def parse_csv(csv_file: str, video_dir: str, label_map: Optional[Dict[str, int]] = None,
              default_split: Optional[str] = None) -> VideoList:
    """Generic list: `path,label[;label...][,split]` per line, path relative to
    `video_dir` (or absolute). An optional header row starts with "path".
    The media id is the path without its extension; every line needs a label.
    Lines without a split column get `default_split`, by default the split the
    file name contains (train.csv, val.csv, test.csv), else "train".
    """
    default_split = default_split or split_from_file_name(csv_file)
    entries = []
    lines = storage.read_text(csv_file).splitlines()
    for number, row in enumerate(csv.reader(lines), 1):
        where, text = f"{csv_file}:{number}", lines[number - 1]
        if not text.strip() or (number == 1 and row and row[0].strip().lower() == "path"):
            continue
        if len(row) not in (2, 3) or not row[0].strip():
            raise ListFormatError(where, "expected 'path,label[;label...][,split]'", text)
        relative = row[0].strip()
        labels = tuple(label.strip() for label in row[1].split(";"))
        if not all(labels):
            raise ListFormatError(where, "empty label; expected 'path,label[;label...][,split]'",
                                  text)
        check_labels(labels, label_map, where, text)
        split = split_of(row[2] if len(row) == 3 else default_split, where)
        path = relative if os.path.isabs(relative) or storage.is_url(relative) else \
            storage.join(video_dir, relative)
        media_id = os.path.splitext(relative)[0]
        entries.append(VideoEntry(media_id, path, labels, split, line=where))
    return finish(entries, label_map)
