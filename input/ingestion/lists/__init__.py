"""Dataset lists: split/label files -> `VideoList(entries, label_map)`, one module per family.

`split_files` (UCF101, HMDB51), `csv_lists` (Kinetics, generic CSV),
`temporal` (ActivityNet, THUMOS14), `rawframes` (lists of extracted frame
folders: TSN-caffe, tsn-pytorch, mmaction2); `common` holds what they share. The label
map sends a class name to a 0-based index: the dataset's own order where it
has one (UCF101's classInd.txt is 1-based and is shifted to 0-based),
otherwise the sorted class names. Passing `label_map=` fixes the map (e.g. to
share one between train and test lists); a label outside it is then an error.
Split names are normalized to "train", "val" and "test".

Errors are `ListFormatError`s naming the file, the line number and the text.
Missing video files are not an error here: the ingestion drivers report them
per video, beside decode failures.
"""
from typing import Optional, Sequence

from tsn_tf.input.ingestion import storage
from tsn_tf.input.ingestion.lists.common import (  # noqa: F401  (the lists API)
    SPLIT_NAMES, VIDEO_EXTENSIONS, ListFormatError, VideoEntry, VideoIndex, VideoList,
    build_label_map, finish, format_label_map, read_label_map, split_of)
from tsn_tf.input.ingestion.lists.csv_lists import (  # noqa: F401
    kinetics_media_id, parse_csv, parse_kinetics, split_from_file_name)
from tsn_tf.input.ingestion.lists.rawframes import (  # noqa: F401
    FrameFolderEntry, class_names, parse_rawframes)
from tsn_tf.input.ingestion.lists.split_files import (  # noqa: F401
    hmdb51_split_files, parse_hmdb51, parse_ucf101, ucf101_split_files)
from tsn_tf.input.ingestion.lists.temporal import (  # noqa: F401
    THUMOS_IGNORED_CLASSES, parse_activitynet, parse_thumos14, thumos14_annotation_files)

FORMATS = ("ucf101", "hmdb51", "kinetics", "activitynet", "thumos14", "csv", "rawframes")


def select_split(video_list: VideoList, splits: Optional[Sequence[str]]) -> VideoList:
    """Keeps the entries of the named splits (normalized names); all if `splits` is empty."""
    if not splits:
        return video_list
    wanted = {split_of(s, "--split") for s in splits}
    return VideoList([e for e in video_list.entries if e.split in wanted], video_list.label_map)


def load_list(list_format: str, list_paths: Sequence[str], video_dir: str,
              class_index: Optional[str] = None, split_number: int = 1) -> VideoList:
    """Parses a dataset list of `list_format` (one of FORMATS).

    list_paths: the list files; for ucf101 (ucfTrainTestlist), hmdb51 (split
    files) and thumos14 (annotation files) a single folder may be given
    instead, with `split_number` choosing the official split.
    class_index: a label map file (UCF101 classInd.txt, or label_map.txt) that
    fixes the class order; by default the sorted class names. For rawframes
    also a folder of HMDB51 split files (their sorted class names).
    """
    if list_format == "rawframes":  # video_dir: the folder of frame folders
        return parse_rawframes(list_paths, video_dir, class_names(class_index, split_number))
    if list_format not in FORMATS:
        raise ValueError(f"unknown list format {list_format!r}; expected one of {FORMATS}")
    if not list_paths:
        raise ValueError(f"the {list_format} format needs at least one list file")
    label_map = read_label_map(class_index) if class_index and list_format != "ucf101" else None
    folder = list_paths[0] if len(list_paths) == 1 and storage.is_dir(list_paths[0]) else None
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
    return finish(entries, label_map)
