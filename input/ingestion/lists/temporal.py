"""Untrimmed sets with temporal annotations: ActivityNet's JSON and THUMOS14's
per-class `<Class>_val.txt` / `_test.txt` files."""
import json
import os
import re
from typing import Dict, List, Optional, Sequence

from tsn_tf.input.ingestion import storage
from tsn_tf.input.ingestion.lists.common import (
    ListFormatError, VideoEntry, VideoIndex, VideoList, check_labels, finish, numbered_lines,
    split_of)


def parse_activitynet(json_file: str, video_dir: str,
                      label_map: Optional[Dict[str, int]] = None) -> VideoList:
    """ActivityNet JSON: {"database": {id: {"subset", "duration",
    "annotations": [{"segment": [start_s, end_s], "label"}]}}}.

    The video is `v_<id>.*` or `<id>.*` under `video_dir`; its labels are the
    distinct segment labels in order of appearance.
    """
    try:
        database = json.loads(storage.read_text(json_file))["database"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ListFormatError(json_file, f"expected a JSON object with a 'database' key: "
                              f"{error}") from None
    index = VideoIndex(video_dir)
    entries = []
    for video_id, video in database.items():
        where = f"{json_file}:database[{video_id!r}]"
        if not isinstance(video, dict) or "subset" not in video:
            raise ListFormatError(where, "expected an object with 'subset' and 'annotations'",
                                  json.dumps(video)[:200])
        segments = []
        for annotation in video.get("annotations", []):
            try:
                start, end = (float(t) for t in annotation["segment"])
                label = str(annotation["label"])
            except (KeyError, TypeError, ValueError):
                raise ListFormatError(where, "annotation needs 'segment': [start, end] and "
                                      "'label'", json.dumps(annotation)) from None
            if not 0 <= start < end:
                raise ListFormatError(where, "segment needs 0 <= start < end",
                                      json.dumps(annotation))
            check_labels([label], label_map, where, json.dumps(annotation))
            segments.append((start, end, label))
        labels = tuple(dict.fromkeys(segment[2] for segment in segments))
        entries.append(VideoEntry(video_id, index.find([f"v_{video_id}", video_id]), labels,
                                  split_of(video["subset"], where), tuple(segments), where))
    return finish(entries, label_map)


_THUMOS_FILE = re.compile(r"^(?P<label>.+)_(?P<split>val|test)\.txt$")
THUMOS_IGNORED_CLASSES = ("Ambiguous",)


def thumos14_annotation_files(annotation_dir: str) -> List[str]:
    """The `<Class>_val.txt` / `<Class>_test.txt` files in an annotation folder."""
    files = sorted(p for p in storage.walk_files(annotation_dir)
                   if _THUMOS_FILE.match(os.path.basename(p)))
    if not files:
        raise ListFormatError(annotation_dir, "no <Class>_val.txt or <Class>_test.txt files")
    return files


def parse_thumos14(annotation_files: Sequence[str], video_dir: str,
                   label_map: Optional[Dict[str, int]] = None) -> VideoList:
    """THUMOS14 temporal annotations: `<Class>_val.txt` (or _test.txt) with lines
    "video_name start_s end_s"; one entry per video with all its segments.
    `Ambiguous_*.txt` (not a class) is skipped.
    """
    index = VideoIndex(video_dir)
    videos: Dict[str, dict] = {}
    for annotation_file in annotation_files:
        match = _THUMOS_FILE.match(os.path.basename(annotation_file))
        if not match:
            raise ListFormatError(annotation_file, "THUMOS14 annotation files are named "
                                  "<Class>_val.txt or <Class>_test.txt")
        label = match.group("label")
        if label in THUMOS_IGNORED_CLASSES:
            continue
        for where, text in numbered_lines(annotation_file):
            fields = text.split()
            try:
                name, start, end = fields[0], float(fields[1]), float(fields[2])
            except (IndexError, ValueError):
                raise ListFormatError(where, "expected 'video_name start_s end_s'",
                                      text) from None
            if len(fields) != 3 or not 0 <= start < end:
                raise ListFormatError(where, "expected 'video_name start_s end_s' with "
                                      "0 <= start < end", text)
            check_labels([label], label_map, where, text)
            video = videos.setdefault(name, {"where": where, "segments": [],
                                             "split": split_of(match.group("split"), where)})
            video["segments"].append((start, end, label))
    entries = []
    for name in sorted(videos):
        segments = tuple(sorted(videos[name]["segments"]))
        labels = tuple(dict.fromkeys(s[2] for s in segments))
        entries.append(VideoEntry(name, index.find([name]), labels, videos[name]["split"],
                                  segments, videos[name]["where"]))
    return finish(entries, label_map)
