"""Dataset list parsers: split/label files to `VideoEntry` lists and a label map.

Every parser returns a `VideoList(entries, label_map)`. The label map sends a
class name to a 0-based index: the dataset's own order where it has one
(UCF101's classInd.txt is 1-based and is shifted to 0-based), otherwise the
sorted class names. Passing `label_map=` fixes the map (e.g. to share one
between train and test lists); a label outside it is then an error.

Split names are normalized to "train", "val" and "test" (ActivityNet's
training/validation/testing, THUMOS14's _val/_test files).

Errors are `ListFormatError`s naming the file, the line number and the text.
Missing video files are not an error here: the ingestion drivers report them
per video, beside decode failures.
"""
import csv
import dataclasses
import io
import json
import os
import re
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from tsn_tf.input import storage

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg",
                    ".flv", ".wmv", ".3gp")
SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "validation": "val",
               "valid": "val", "test": "test", "testing": "test"}
FORMATS = ("ucf101", "hmdb51", "kinetics", "activitynet", "thumos14", "csv")


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


def _check_labels(labels: Sequence[str], label_map: Optional[Dict[str, int]], where: str,
                  text: str) -> None:
    if label_map is None:
        return
    for label in labels:
        if label not in label_map:
            raise ListFormatError(where, f"unknown label {label!r}; the label map has "
                                  f"{len(label_map)} classes", text)


def _finish(entries: List[VideoEntry], label_map: Optional[Dict[str, int]]) -> VideoList:
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


def _numbered_lines(path: str):
    """(where, text) for every non-blank line of a list file."""
    for number, text in enumerate(storage.read_text(path).splitlines(), 1):
        if text.strip():
            yield f"{path}:{number}", text.strip()


def _split_of(name: str, where: str) -> str:
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


# --- UCF101 --------------------------------------------------------------------

def parse_ucf101(class_index_file: str, split_files: Sequence[str], video_dir: str,
                 label_map: Optional[Dict[str, int]] = None) -> VideoList:
    """UCF101: classInd.txt ("1 ApplyEyeMakeup", 1-based, made 0-based) and
    trainlist0N.txt ("Class/v_x.avi 1") / testlist0N.txt ("Class/v_x.avi").

    The split comes from the file name (trainlist -> train, testlist -> test).
    A train line's class number must agree with its folder name.
    """
    if label_map is None:
        label_map = read_label_map(class_index_file)
    entries = []
    for split_file in split_files:
        base = os.path.basename(split_file).lower()
        if not base.startswith(("trainlist", "testlist")):
            raise ListFormatError(split_file, "UCF101 split files are named trainlist0N.txt "
                                  "or testlist0N.txt")
        split = "train" if base.startswith("trainlist") else "test"
        for where, text in _numbered_lines(split_file):
            fields = text.split()
            if len(fields) not in (1, 2) or "/" not in fields[0]:
                raise ListFormatError(where, "expected 'Class/v_name.avi [class_number]'", text)
            relative = fields[0]
            label = relative.split("/")[0]
            _check_labels([label], label_map, where, text)
            if len(fields) == 2:
                if not fields[1].isdigit():
                    raise ListFormatError(where, "class number must be an integer", text)
                if int(fields[1]) - 1 != label_map[label]:
                    raise ListFormatError(where, f"class number {fields[1]} disagrees with folder "
                                          f"{label!r} (classInd.txt gives "
                                          f"{label_map[label] + 1})", text)
            media_id = os.path.splitext(os.path.basename(relative))[0]
            entries.append(VideoEntry(media_id, storage.join(video_dir, relative), (label,),
                                      split, line=where))
    return _finish(entries, label_map)


def ucf101_split_files(list_dir: str, split_number: int) -> Tuple[str, List[str]]:
    """classInd.txt and trainlist0N/testlist0N.txt inside the official ucfTrainTestlist folder."""
    names = [f"trainlist{split_number:02d}.txt", f"testlist{split_number:02d}.txt"]
    return storage.join(list_dir, "classInd.txt"), [storage.join(list_dir, n) for n in names]


# --- HMDB51 ----------------------------------------------------------------------

_HMDB_SPLIT_FILE = re.compile(r"^(?P<label>.+)_test_split(?P<number>\d+)\.txt$")
_HMDB_SPLITS = {"1": "train", "2": "test"}


def hmdb51_split_files(split_dir: str, split_number: int) -> List[str]:
    """The 51 `<class>_test_split<N>.txt` files of split N in `split_dir`."""
    files = []
    for path in storage.walk_files(split_dir):
        match = _HMDB_SPLIT_FILE.match(os.path.basename(path))
        if match and int(match.group("number")) == split_number:
            files.append(path)
    if not files:
        raise ListFormatError(split_dir, f"no <class>_test_split{split_number}.txt files")
    return sorted(files)


def parse_hmdb51(split_files: Sequence[str], video_dir: str,
                 label_map: Optional[Dict[str, int]] = None) -> VideoList:
    """HMDB51: `<class>_test_split<N>.txt` lines "video.avi 0|1|2"
    (1 train, 2 test, 0 unused and skipped). Videos live at video_dir/<class>/video.avi.
    """
    entries = []
    for split_file in split_files:
        match = _HMDB_SPLIT_FILE.match(os.path.basename(split_file))
        if not match:
            raise ListFormatError(split_file, "HMDB51 split files are named "
                                  "<class>_test_split<N>.txt")
        label = match.group("label")
        for where, text in _numbered_lines(split_file):
            fields = text.split()
            if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
                raise ListFormatError(where, "expected 'video.avi 0|1|2'", text)
            if fields[1] == "0":
                continue
            _check_labels([label], label_map, where, text)
            media_id = os.path.splitext(fields[0])[0]
            entries.append(VideoEntry(media_id, storage.join(video_dir, label, fields[0]),
                                      (label,), _HMDB_SPLITS[fields[1]], line=where))
    return _finish(entries, label_map)


# --- Kinetics ------------------------------------------------------------------------

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
            _check_labels(labels, label_map, where, text)
            split = _split_of(row.get("split") or "train", where)
            media_id = kinetics_media_id(row["youtube_id"].strip(), start, end)
            entries.append(VideoEntry(media_id, index.find([media_id]), labels, split,
                                      line=where))
    return _finish(entries, label_map)


# --- ActivityNet -----------------------------------------------------------------------

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
            _check_labels([label], label_map, where, json.dumps(annotation))
            segments.append((start, end, label))
        labels = tuple(dict.fromkeys(segment[2] for segment in segments))
        entries.append(VideoEntry(video_id, index.find([f"v_{video_id}", video_id]), labels,
                                  _split_of(video["subset"], where), tuple(segments), where))
    return _finish(entries, label_map)


# --- THUMOS14 ---------------------------------------------------------------------------

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
        for where, text in _numbered_lines(annotation_file):
            fields = text.split()
            try:
                name, start, end = fields[0], float(fields[1]), float(fields[2])
            except (IndexError, ValueError):
                raise ListFormatError(where, "expected 'video_name start_s end_s'",
                                      text) from None
            if len(fields) != 3 or not 0 <= start < end:
                raise ListFormatError(where, "expected 'video_name start_s end_s' with "
                                      "0 <= start < end", text)
            _check_labels([label], label_map, where, text)
            video = videos.setdefault(name, {"where": where, "segments": [],
                                             "split": _split_of(match.group("split"), where)})
            video["segments"].append((start, end, label))
    entries = []
    for name in sorted(videos):
        segments = tuple(sorted(videos[name]["segments"]))
        labels = tuple(dict.fromkeys(s[2] for s in segments))
        entries.append(VideoEntry(name, index.find([name]), labels, videos[name]["split"],
                                  segments, videos[name]["where"]))
    return _finish(entries, label_map)


# --- generic CSV ------------------------------------------------------------------------

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
        _check_labels(labels, label_map, where, text)
        split = _split_of(row[2] if len(row) == 3 else default_split, where)
        path = relative if os.path.isabs(relative) or storage.is_url(relative) else \
            storage.join(video_dir, relative)
        media_id = os.path.splitext(relative)[0]
        entries.append(VideoEntry(media_id, path, labels, split, line=where))
    return _finish(entries, label_map)


def select_split(video_list: VideoList, splits: Optional[Sequence[str]]) -> VideoList:
    """Keeps the entries of the named splits (normalized names); all if `splits` is empty."""
    if not splits:
        return video_list
    wanted = {_split_of(s, "--split") for s in splits}
    return VideoList([e for e in video_list.entries if e.split in wanted], video_list.label_map)


def _is_dir(path: str) -> bool:
    return storage.gfile().isdir(path) if storage.is_url(path) else os.path.isdir(path)


def load_list(list_format: str, list_paths: Sequence[str], video_dir: str,
              class_index: Optional[str] = None, split_number: int = 1) -> VideoList:
    """Parses a dataset list of `list_format` (one of FORMATS).

    list_paths: the list files; for ucf101 (ucfTrainTestlist), hmdb51 (split
    files) and thumos14 (annotation files) a single folder may be given
    instead, with `split_number` choosing the official split.
    class_index: a label map file (UCF101 classInd.txt, or label_map.txt) that
    fixes the class order; by default the sorted class names.
    """
    if list_format not in FORMATS:
        raise ValueError(f"unknown list format {list_format!r}; expected one of {FORMATS}")
    if not list_paths:
        raise ValueError(f"the {list_format} format needs at least one list file")
    label_map = read_label_map(class_index) if class_index and list_format != "ucf101" else None
    folder = list_paths[0] if len(list_paths) == 1 and _is_dir(list_paths[0]) else None
    if list_format == "ucf101":
        if folder:
            default_index, list_paths = ucf101_split_files(folder, split_number)
            class_index = class_index or default_index
        if not class_index:
            raise ValueError("ucf101 needs classInd.txt: pass it as the class index or "
                             "give the ucfTrainTestlist folder as the list")
        return parse_ucf101(class_index, list_paths, video_dir)
    if list_format == "hmdb51":
        files = hmdb51_split_files(folder, split_number) if folder else list_paths
        return parse_hmdb51(files, video_dir, label_map)
    if list_format == "kinetics":
        return parse_kinetics(list_paths, video_dir, label_map)
    if list_format == "activitynet":
        if len(list_paths) != 1:
            raise ValueError(f"activitynet takes one JSON file, got {list(list_paths)}")
        return parse_activitynet(list_paths[0], video_dir, label_map)
    if list_format == "thumos14":
        files = thumos14_annotation_files(folder) if folder else list_paths
        return parse_thumos14(files, video_dir, label_map)
    entries = [e for csv_file in list_paths
               for e in parse_csv(csv_file, video_dir, label_map).entries]
    return _finish(entries, label_map)
