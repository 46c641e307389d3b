"""UCF101 and HMDB51: the official split files of each (classInd/trainlist/testlist;
<class>_test_split<N>.txt)."""
import os
import re
from typing import Dict, List, Optional, Sequence, Tuple

from tsn_tf.input.ingestion import storage
from tsn_tf.input.ingestion.lists.common import (
    ListFormatError, VideoEntry, VideoList, check_labels, finish, numbered_lines, read_label_map)


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
        for where, text in numbered_lines(split_file):
            fields = text.split()
            if len(fields) not in (1, 2) or "/" not in fields[0]:
                raise ListFormatError(where, "expected 'Class/v_name.avi [class_number]'", text)
            relative = fields[0]
            label = relative.split("/")[0]
            check_labels([label], label_map, where, text)
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
    return finish(entries, label_map)


def ucf101_split_files(list_dir: str, split_number: int) -> Tuple[str, List[str]]:
    """classInd.txt and trainlist0N/testlist0N.txt inside the official ucfTrainTestlist folder."""
    names = [f"trainlist{split_number:02d}.txt", f"testlist{split_number:02d}.txt"]
    return storage.join(list_dir, "classInd.txt"), [storage.join(list_dir, n) for n in names]


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
        for where, text in numbered_lines(split_file):
            fields = text.split()
            if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
                raise ListFormatError(where, "expected 'video.avi 0|1|2'", text)
            if fields[1] == "0":
                continue
            check_labels([label], label_map, where, text)
            media_id = os.path.splitext(fields[0])[0]
            entries.append(VideoEntry(media_id, storage.join(video_dir, label, fields[0]),
                                      (label,), _HMDB_SPLITS[fields[1]], line=where))
    return finish(entries, label_map)
