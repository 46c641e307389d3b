"""One folder of extracted frames -> one `schema.VideoRecord`, the JPEG bytes as they are.

Layouts (what the extractors write, per video folder; `FrameLayout`):
  * dense_flow (TSN-caffe's `tools/build_of.py`, tsn-pytorch's data) `-o dir`:
    `img_%05d.jpg`, `flow_x_%05d.jpg`, `flow_y_%05d.jpg`, 1-based;
  * dense_flow `-o zip`: `img.zip`, `flow_x.zip`, `flow_y.zip` holding
    `img_%05d.jpg`, `x_%05d.jpg`, `y_%05d.jpg`, 1-based (`ZIP_ARCHIVES`);
  * denseflow (mmaction2's `build_rawframes.py`): the same names, numbered
    from 0 by today's source (mmaction2's FAQ: `_00000` or `_00001`);
    mmaction2's `--use-opencv` RGB: `img_%05d.jpg` from 1;
  * anything else: Python format templates and a start index.
With `start_index=None` each stream starts at 0 or 1, whichever file exists.

Frame counts (the shards hold N RGB frames and N - 1 flow frames, flow i
being the motion from RGB frame i to i + 1):
  * N RGB and N - 1 flow (denseflow, mmaction2): stored as they are;
  * N RGB and N flow (dense_flow: it writes an RGB frame with each flow
    pair, the pair's second frame, so img_k and flow_k both end at video
    frame k): the first flow pair, whose first frame was not written, is
    dropped; the rest are the motions between the stored RGB frames;
  * any other pair of counts is refused. tsn-pytorch and mmaction2 sample
    each stream over its own count, so neither reads both at one index.

Bad folders raise `FrameFolderError` naming the folder: missing, empty, a
gap in a stream's numbering, flow x without its y, counts outside the rule,
a list count that matches neither stream, a file that is not a whole JPEG
(SOI/EOI checked, the size read from the SOF header, no decoding), frames
of different sizes.
"""
import dataclasses
import io
import json
import re
import zipfile
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from tsn_tf.input.contract import preprocessing, schema
from tsn_tf.input.ingestion import flow as flow_lib
from tsn_tf.input.ingestion import jpeg_header, storage
from tsn_tf.input.ingestion import video as video_lib

STREAMS = ("rgb", "flow_x", "flow_y")
# dense_flow -o zip: <folder>/<archive> holding <entry template> files, 1-based
ZIP_ARCHIVES = {"rgb": ("img.zip", "img_{:05d}.jpg"), "flow_x": ("flow_x.zip", "x_{:05d}.jpg"),
                "flow_y": ("flow_y.zip", "y_{:05d}.jpg")}
EXTRACTOR_JPEG_QUALITY = 95  # cv::imencode's default: dense_flow, denseflow and mmcv write with it


class FrameFolderError(ValueError):
    """A frame folder that cannot be imported; the message names it and why."""

    def __init__(self, folder: str, reason: str):
        super().__init__(f"{folder}: {reason}")


def template_pattern(template: str) -> "re.Pattern":
    """A regex of the names `template` makes, the frame number as group 1."""
    parts = re.split(r"\{[^{}]*\}", template)
    try:
        template.format(0)
    except (KeyError, IndexError, ValueError):
        parts = []
    if len(parts) != 2:
        raise ValueError(f"a frame name template needs exactly one {{}} field for the "
                         f"frame number, like img_{{:05d}}.jpg; got {template!r}")
    return re.compile(re.escape(parts[0]) + r"(\d+)" + re.escape(parts[1]) + "$")


@dataclasses.dataclass(frozen=True)
class FrameLayout:
    """File names of a folder's streams: Python format templates of the frame number."""
    rgb: str = "img_{:05d}.jpg"
    flow_x: str = "flow_x_{:05d}.jpg"
    flow_y: str = "flow_y_{:05d}.jpg"
    start_index: Optional[int] = None  # None: 0 or 1, whichever file exists

    def __post_init__(self):
        for stream in STREAMS:
            template_pattern(getattr(self, stream))
        if self.start_index is not None and self.start_index < 0:
            raise ValueError(f"start_index must be >= 0, got {self.start_index}")


@dataclasses.dataclass(frozen=True)
class ImportOptions:
    """How frame folders become records.

    modalities: subset of ("rgb", "flow", "warped_flow"); flow is read from the
        folder's flow files unless `compute_flow` names an algorithm of
        `ingestion.flow`, which then runs on the decoded RGB frames
        (warped_flow only so).
    imported_flow: the name recorded for flow read from files
        (`schema.FLOW_ALGORITHM` = "imported:<name>"), e.g. "tvl1_tsn".
    flow_bound: px the imported (or computed) flow was clipped to.
    frame_rate: frames per second (frame i is at i / frame_rate).
    size / short_side: decode, resize and re-encode RGB at `jpeg_quality`
        (as tsn-ingest resizes videos); both None copies the bytes.
    jpeg_quality: the quality recorded for copied frames (the extractors'
        OpenCV default), or used to re-encode.
    """
    modalities: Tuple[str, ...] = ("rgb", "flow")
    layout: FrameLayout = FrameLayout()
    imported_flow: str = "unspecified"
    flow_bound: float = preprocessing.DEFAULT_FLOW_BOUND
    frame_rate: float = 30.0
    compute_flow: Optional[str] = None
    size: Optional[Tuple[int, int]] = None
    short_side: Optional[int] = None
    jpeg_quality: int = EXTRACTOR_JPEG_QUALITY

    def __post_init__(self):
        object.__setattr__(self, "modalities", tuple(self.modalities))
        allowed = ("rgb", "flow", "warped_flow")
        if not self.modalities or any(m not in allowed for m in self.modalities):
            raise ValueError(f"modalities must be a non-empty subset of {allowed}; "
                             f"received {self.modalities}")
        if self.compute_flow is not None and self.compute_flow not in flow_lib.FLOW_ALGORITHMS:
            raise ValueError(f"unknown flow algorithm {self.compute_flow!r} to compute; "
                             f"expected one of {flow_lib.FLOW_ALGORITHMS}")
        if self.compute_flow and not any(m in self.modalities for m in ("flow", "warped_flow")):
            raise ValueError(f"--flow={self.compute_flow} computes flow, but --modalities="
                             f"{','.join(self.modalities)} stores none: add flow or drop --flow")
        if "warped_flow" in self.modalities and not self.compute_flow:
            raise ValueError("warped_flow is computed from the RGB frames: name a flow "
                             "algorithm to compute it with (--flow)")
        resized = self.size is not None or self.short_side is not None
        if resized and self.reads_flow_files:
            raise ValueError("imported flow holds px of the extracted frames and cannot be "
                             "resized: import rgb only (--modalities=rgb) or compute the flow "
                             "after resizing (--flow)")
        if self.frame_rate <= 0 or self.flow_bound <= 0:
            raise ValueError(f"frame_rate and flow_bound must be positive; received "
                             f"{self.frame_rate}, {self.flow_bound}")

    @property
    def reads_flow_files(self) -> bool:
        return "flow" in self.modalities and not self.compute_flow

    @property
    def copies_rgb(self) -> bool:
        return self.size is None and self.short_side is None


# --- where a stream's files are --------------------------------------------------

class FolderFiles:
    """The files of a frame folder (local or URL)."""

    def __init__(self, folder: str):
        self.folder = folder
        self.names = storage.list_dir(folder)

    def read(self, name: str) -> bytes:
        return storage.read_bytes(storage.join(self.folder, name))


class ZipFiles:
    """The members of one of dense_flow's per-video zip archives (read into memory: no
    file stays open)."""

    def __init__(self, path: str):
        self._archive = zipfile.ZipFile(io.BytesIO(storage.read_bytes(path)))
        self.names = sorted(self._archive.namelist())

    def read(self, name: str) -> bytes:
        return self._archive.read(name)


def numbered(names: Sequence[str], template: str) -> Dict[int, str]:
    """Frame number -> file name, for the names `template` makes exactly."""
    pattern = template_pattern(template)
    found = {}
    for name in names:
        match = pattern.match(name)
        if match and template.format(int(match.group(1))) == name:
            found[int(match.group(1))] = name
    return found


def ordered_names(files: Dict[int, str], template: str, start: Optional[int], folder: str
                  ) -> List[str]:
    """The names of frames start, start + 1, ... ; a gap raises naming the missing file."""
    if not files:
        return []
    first = min(files)
    if start is None:
        start = first if first in (0, 1) else 1
    if first != start:
        raise FrameFolderError(folder, f"{template.format(start)} missing: the frames start "
                               f"at {files[first]} (start index {start})")
    for number in range(start, start + len(files)):
        if number not in files:
            raise FrameFolderError(folder, f"{template.format(number)} missing: a gap in the "
                                   f"numbering of {len(files)} frames from {files[start]}")
    return [files[number] for number in range(start, start + len(files))]


def stream_sources(folder: str, layout: FrameLayout, checked: Sequence[str] = STREAMS
                   ) -> Dict[str, Tuple[object, List[str]]]:
    """stream -> (its files, names in frame order), from the folder or its zip archives;
    the numbering of the `checked` streams (those imported) must have no gap."""
    if not storage.is_dir(folder):
        raise FrameFolderError(folder, "not a folder of frames" if storage.exists(folder)
                               else "frame folder does not exist")
    plain = FolderFiles(folder)
    zipped = any(ZIP_ARCHIVES[s][0] in plain.names for s in STREAMS)
    sources = {}
    for stream in STREAMS:
        files, template = plain, getattr(layout, stream)
        if zipped:
            archive, template = ZIP_ARCHIVES[stream]
            if archive not in plain.names:
                sources[stream] = (None, [])
                continue
            try:
                files = ZipFiles(storage.join(folder, archive))
            except zipfile.BadZipFile as error:
                raise FrameFolderError(folder, f"{archive}: not a zip archive ({error})") from None
        found = numbered(files.names, template)
        names = ordered_names(found, template, layout.start_index, folder) \
            if stream in checked else [found[number] for number in sorted(found)]
        sources[stream] = (files, names)
    return sources


# --- counts ---------------------------------------------------------------------

def flow_pairs_to_drop(num_rgb: int, num_flow: int, folder: str) -> int:
    """Leading flow frames to leave out so flow i is the motion from RGB i to i + 1
    (module doc): 0 for N / N - 1, 1 for dense_flow's N / N; others raise."""
    if num_rgb == 0 or num_flow == num_rgb - 1:
        return 0
    if num_flow == num_rgb:
        return 1
    raise FrameFolderError(folder, f"{num_rgb} RGB frames and {num_flow} flow frames: "
                           f"expected N and N - 1 (denseflow) or N and N (dense_flow)")


def check_counts(sources, listed: int, folder: str, flow: bool = True) -> None:
    """Flow x and y agree (if `flow` is imported); the list's count is one of the streams'
    (TSN lists count RGB or flow, mmaction2's RGB); the folder is not empty."""
    counts = {stream: len(names) for stream, (_, names) in sources.items()}
    if flow and counts["flow_x"] != counts["flow_y"]:
        fewer = "flow_y" if counts["flow_y"] < counts["flow_x"] else "flow_x"
        more = "flow_x" if fewer == "flow_y" else "flow_y"
        names = sources[more][1]
        missing = names[counts[fewer]]  # the longer stream's first frame without a partner
        raise FrameFolderError(folder, f"{counts['flow_x']} flow x but {counts['flow_y']} flow "
                               f"y frames: {fewer} has no frame beside {missing}")
    if not counts["rgb"] and not counts["flow_x"]:
        raise FrameFolderError(folder, "no frames (no file matches the rgb or flow templates)")
    if listed >= 0 and listed not in (counts["rgb"], counts["flow_x"]):
        raise FrameFolderError(folder, f"the list gives {listed} frames but the folder holds "
                               f"{counts['rgb']} RGB and {counts['flow_x']} flow frames")


def read_checked(files, names: Sequence[str], folder: str) -> Tuple[List[bytes], Tuple[int, int]]:
    """The bytes of `names` and their common (width, height), each checked as a whole JPEG."""
    frames, size = [], None
    for name in names:
        data = files.read(name)
        try:
            header = jpeg_header.jpeg_header(data)
        except jpeg_header.JpegError as error:
            raise FrameFolderError(folder, f"{name}: {error}") from None
        if size is None:
            size = (header.width, header.height)
        elif size != (header.width, header.height):
            raise FrameFolderError(folder, f"{name} is {header.width}x{header.height}, the "
                                   f"frames before it {size[0]}x{size[1]}")
        frames.append(data)
    return frames, size


# --- decoding, only when asked ----------------------------------------------------

def decoded_frames(jpegs: Sequence[bytes], size: Tuple[int, int], folder: str):
    """BGR frames of `jpegs`, resized to `size` (width, height) as tsn-ingest resizes video."""
    for data in jpegs:
        frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if frame is None:
            raise FrameFolderError(folder, "a frame with a whole JPEG header does not decode")
        yield video_lib.resize_frame(frame, size)


def computed_streams(rgb: Sequence[bytes], size: Tuple[int, int], options: ImportOptions,
                     folder: str):
    """EncodedStreams of the decoded (resized) RGB: re-encoded RGB if resizing, and the
    flow `options.compute_flow` names (ingestion's own flow path, `encode_frames`)."""
    from tsn_tf.input.ingestion import encode

    modalities = [m for m in options.modalities if m in ("flow", "warped_flow")]
    if not options.copies_rgb and "rgb" in options.modalities:
        modalities.insert(0, "rgb")
    ingest_options = encode.IngestOptions(  # "dis": a valid name when no flow is computed
            modalities=tuple(modalities), flow_algorithm=options.compute_flow or "dis",
            flow_bound=options.flow_bound, size=None, jpeg_quality=options.jpeg_quality)
    return encode.encode_frames(decoded_frames(rgb, size, folder), ingest_options)


def flow_fields(options: ImportOptions) -> dict:
    """`VideoRecord` fields saying where the flow came from."""
    if not any(m in options.modalities for m in ("flow", "warped_flow")):
        return {}
    if options.compute_flow:
        parameters = flow_lib.FlowEstimator(options.compute_flow).parameters()
        return dict(flow_algorithm=options.compute_flow, flow_bound=float(options.flow_bound),
                    flow_parameters=json.dumps(parameters))
    layout = dataclasses.asdict(options.layout)
    return dict(flow_algorithm=f"imported:{options.imported_flow}",
                flow_bound=float(options.flow_bound),
                flow_parameters=json.dumps({"imported": options.imported_flow,
                                            "layout": layout}))


# --- the record -------------------------------------------------------------------

def imported_flow(sources, num_rgb: int, size, folder: str):
    """(flow x JPEGs, flow y JPEGs, (width, height)) from the folder's flow files, the
    leading pair dense_flow's N / N layout adds left out (`flow_pairs_to_drop`)."""
    (x_files, x_names), (y_files, y_names) = sources["flow_x"], sources["flow_y"]
    if not x_names:
        raise FrameFolderError(folder, "no flow frames; import rgb only or compute the flow")
    drop = flow_pairs_to_drop(num_rgb, len(x_names), folder)
    flow_x, x_size = read_checked(x_files, x_names[drop:], folder)
    flow_y, y_size = read_checked(y_files, y_names[drop:], folder)
    if y_size != x_size or (size is not None and x_size != size):
        raise FrameFolderError(folder, f"flow x / y frames are {x_size} / {y_size} "
                               f"(width, height), RGB frames {size}")
    return flow_x, flow_y, x_size


def import_folder(folder: str, *, media_id: str, label_indices: Sequence[int],
                  label_strings: Sequence[str], options: ImportOptions = ImportOptions(),
                  listed_frames: int = -1) -> schema.VideoRecord:
    """Reads one frame folder into a shard record (module doc); `listed_frames` is the
    count its list gives (-1: none to check)."""
    reads_rgb = "rgb" in options.modalities or bool(options.compute_flow)
    checked = ("rgb",) * reads_rgb + ("flow_x", "flow_y") * options.reads_flow_files
    sources = stream_sources(folder, options.layout, checked)
    check_counts(sources, listed_frames, folder, flow=options.reads_flow_files)
    rgb_files, rgb_names = sources["rgb"]
    rgb, size, flow_x, flow_y, streams = [], None, [], [], None
    if reads_rgb:
        if not rgb_names:
            raise FrameFolderError(folder, f"no RGB frames ({options.layout.rgb})")
        rgb, size = read_checked(rgb_files, rgb_names, folder)
    if options.reads_flow_files:
        flow_x, flow_y, size = imported_flow(sources, len(rgb_names), size, folder)
    stored_size = video_lib.output_size(size, options.size, options.short_side)
    if options.compute_flow or not options.copies_rgb:
        streams = computed_streams(rgb, stored_size, options, folder)
        rgb = rgb if options.copies_rgb else streams.rgb_jpegs
        if options.compute_flow:
            flow_x, flow_y = streams.flow_x_jpegs, streams.flow_y_jpegs
    rgb = rgb if "rgb" in options.modalities else []
    return schema.VideoRecord(
            media_id=media_id, label_indices=list(label_indices),
            label_strings=list(label_strings), height=stored_size[1], width=stored_size[0],
            frame_rate=float(options.frame_rate), rgb_jpegs=rgb,
            timestamps_us=[int(round(i * 1_000_000 / options.frame_rate))
                           for i in range(len(rgb))],
            data_path=folder, flow_x_jpegs=flow_x, flow_y_jpegs=flow_y,
            warped_flow_x_jpegs=streams.warped_flow_x_jpegs if streams else [],
            warped_flow_y_jpegs=streams.warped_flow_y_jpegs if streams else [],
            resize=preprocessing.resize_text(options.size, options.short_side)
            if options.size or options.short_side else preprocessing.resize_text(stored_size),
            jpeg_quality=int(options.jpeg_quality), source_size=tuple(size),
            **flow_fields(options))
