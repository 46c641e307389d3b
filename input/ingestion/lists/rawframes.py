"""Lists of extracted frame folders: `<dir> <num_frames> <label> [<label> ...]`.

One shape for the three families that write them: TSN-caffe's
`tools/build_file_list.py` (an RGB list counting `img_*` files and a flow
list counting `flow_x_*` files, both 0-based labels, absolute folders),
tsn-pytorch (reads TSN's lists) and mmaction2's rawframe annotations
(`tools/data/build_file_list.py`: folders relative to the frame root, the
count of RGB frames, one label or several for multi-label sets). A relative
folder is joined to the frames folder. Labels are 0-based class numbers;
their names come from a label map (`class_names`) or are the numbers.
The split is the one the file name names (`ucf101_rgb_val_split_1.txt`:
val), else train. mmaction2's `with_offset` form (`<dir> <offset> <count>
<label>`) reads as a multi-label line and is not supported.
"""
import dataclasses
import os
from typing import Dict, List, Optional, Sequence

from tsn_tf.input.ingestion import storage
from tsn_tf.input.ingestion.lists.common import (
    ListFormatError, VideoEntry, VideoList, build_label_map, finish, numbered_lines,
    read_label_map)
from tsn_tf.input.ingestion.lists.csv_lists import split_from_file_name
from tsn_tf.input.ingestion.lists.split_files import _HMDB_SPLIT_FILE, hmdb51_split_files

EXPECTED = "expected '<frame folder> <num_frames> <label> [<label> ...]'"


@dataclasses.dataclass(frozen=True)
class FrameFolderEntry(VideoEntry):
    """A `VideoEntry` whose path is a frame folder, with the frame count its list gives."""
    listed_frames: int = -1


def class_names(class_index: Optional[str], split_number: int = 1) -> Optional[Dict[str, int]]:
    """The label map of `class_index`: a classInd.txt / label_map.txt file, or a folder of
    HMDB51 `<class>_test_split<N>.txt` files (sorted class names, as TSN's class_list.txt
    and mmaction2 number them); None without one."""
    if not class_index:
        return None
    if storage.is_dir(class_index):
        return build_label_map(_HMDB_SPLIT_FILE.match(os.path.basename(path)).group("label")
                               for path in hmdb51_split_files(class_index, split_number))
    return read_label_map(class_index)


def _numbers(fields: Sequence[str], where: str, text: str) -> List[int]:
    if not all(field.isdigit() for field in fields):
        raise ListFormatError(where, f"{EXPECTED}: counts and labels are non-negative "
                              "integers", text)
    return [int(field) for field in fields]


def parse_line(where: str, text: str, frames_dir: str, split: str,
               names: Optional[List[str]]) -> FrameFolderEntry:
    """One list line -> its entry; `names[i]` is class i's name (None: the number)."""
    fields = text.split()
    if len(fields) < 3:
        raise ListFormatError(where, EXPECTED, text)
    count, *labels = _numbers(fields[1:], where, text)
    if names is not None and max(labels) >= len(names):
        raise ListFormatError(where, f"label {max(labels)} is outside the label map's "
                              f"{len(names)} classes (0-based)", text)
    folder = fields[0].rstrip("/")
    path = folder if os.path.isabs(folder) or storage.is_url(folder) \
        else storage.join(frames_dir, folder)
    strings = tuple(names[label] if names is not None else str(label) for label in labels)
    return FrameFolderEntry(os.path.basename(folder), path, strings, split, line=where,
                            listed_frames=count)


def parse_rawframes(list_files: Sequence[str], frames_dir: str,
                    label_map: Optional[Dict[str, int]] = None) -> VideoList:
    """Frame-folder lists -> entries and the label map (`label_map`, else class i is "i"
    for i up to the largest label listed)."""
    names = sorted(label_map, key=label_map.get) if label_map is not None else None
    entries = []
    for list_file in list_files:
        split = split_from_file_name(list_file)
        entries += [parse_line(where, text, frames_dir, split, names)
                    for where, text in numbered_lines(list_file)]
    if label_map is None:
        largest = max((int(label) for e in entries for label in e.label_strings), default=-1)
        label_map = {str(index): index for index in range(largest + 1)}
    return finish(entries, label_map)
