"""The indexed shard layout: every frame a record of its own, an index at the end.

A shard is a standard TFRecord file (8-byte length, 4-byte CRC, data, 4-byte
CRC per record; any TF filesystem) holding, in order:

    video 1: frame records (see below), its audio record (if any)
    video 2: ...
    index:   one record per video, in the order of the videos
    footer:  one record, FOOTER_MAGIC + uint64 offset of the first index
             record + uint64 number of videos (little endian)

A frame record is the encoded frame itself (JPEG bytes, no proto). The frames
of a stream group follow each other, and the keys of a group alternate per
frame (flow: x0, y0, x1, y1, ...), so a snippet of L consecutive frames is
one contiguous byte range. A video's index record is its MediaSequence
`tf.train.SequenceExample` without the frame and audio feature lists (context
keys and `image/timestamp` as `schema.to_sequence_example` writes them),
plus, per stored group, the int64 list ``<group>/frame/offset`` of N + 1
absolute byte offsets: frame i's records span ``[offset[i], offset[i+1])``;
the audio feature lists are a SequenceExample record of their own at
``AUDIO/record/offset`` = [start, end).

The footer sits at a fixed distance from the end of the file, so a reader
finds the index from the file's size, lists the videos without reading a
frame, and reads exactly the records of the sampled frames
(`records.read_runs`). `split_video` and `join_video` convert between a
video's full SequenceExample and its records here; `split_record` gives
`split_video`'s result straight from a `schema.VideoRecord`.
"""
import struct
from typing import Iterable, List, Sequence, Tuple, Union

import tensorflow as tf

from tsn_tf.input.contract import schema

FOOTER_MAGIC = b"TSNIDX01"  # also shards.LAYOUT_VERSION
FOOTER_DATA_BYTES = len(FOOTER_MAGIC) + 16
RECORD_OVERHEAD_BYTES = 16  # uint64 length + uint32 CRC + data + uint32 CRC
FOOTER_RECORD_BYTES = FOOTER_DATA_BYTES + RECORD_OVERHEAD_BYTES
_AUDIO_KEYS = (schema.AUDIO_FLOATS, schema.AUDIO_TIMESTAMP)
# per-frame lists stored as records of their own, not in the index
_RECORD_KEYS = frozenset(_AUDIO_KEYS + tuple(k for _, keys in schema.FRAME_GROUPS for k in keys))
CONVERT_HINT = ("convert a shard of the old layout (one SequenceExample per video) with "
                "`python -m tsn_tf.input.ingestion.relayout_main --input=GLOB --output=DIR`, "
                "or ingest again")


def split_video(example) -> Tuple[List[bytes], tf.train.SequenceExample]:
    """A video's full SequenceExample (proto or bytes) -> (records, index).

    records: its frame records and audio record, in file order; index: its
    index record with offsets relative to the first of `records` (`ShardWriter`
    moves them to the file's offsets).
    """
    if isinstance(example, (bytes, bytearray)):
        example = tf.train.SequenceExample.FromString(bytes(example))
    source = example.feature_lists.feature_list
    streams = {key: [frame.bytes_list.value[0] for frame in source[key].feature]
               for _, keys in schema.FRAME_GROUPS for key in keys if key in source}
    return _split(example, streams)


def split_record(record: schema.VideoRecord) -> Tuple[List[bytes], tf.train.SequenceExample]:
    """`split_video(schema.to_sequence_example(record))` without building a feature per
    frame: the same records and index, in less time (ingestion writes with it)."""
    example = schema.to_sequence_example(record, encoded_frames=False)
    streams = {key: list(frames) for key, frames in schema.encoded_streams(record).items()
               if len(frames)}
    return _split(example, streams)


def _split(example: tf.train.SequenceExample, streams) -> Tuple[List[bytes],
                                                                 tf.train.SequenceExample]:
    """(records, index) of `example` whose encoded frames are `streams` {key: [bytes]}."""
    source = example.feature_lists.feature_list
    index = tf.train.SequenceExample()  # the context and per-frame lists other than these
    index.context.CopyFrom(example.context)
    for key, value in source.items():
        if key not in _RECORD_KEYS:
            index.feature_lists.feature_list[key].CopyFrom(value)
    context = index.context.feature
    records, position = [], 0
    for group, keys in schema.FRAME_GROUPS:
        present = [key for key in keys if key in streams]
        if not present:
            continue
        if len(present) != len(keys) or len({len(streams[k]) for k in keys}) != 1:
            raise ValueError(f"{schema.media_id_of(example)}: the streams {list(keys)} must all "
                             f"be stored with one frame count; found "
                             f"{[len(streams[k]) if k in streams else 0 for k in keys]}.")
        frames = [streams[key] for key in keys]
        offsets = []
        for i in range(len(frames[0])):
            offsets.append(position)
            for stream in frames:
                data = stream[i]
                records.append(data)
                position += len(data) + RECORD_OVERHEAD_BYTES
        offsets.append(position)
        context[schema.frame_offsets_key(group)].int64_list.value[:] = offsets
    audio_keys = [key for key in _AUDIO_KEYS if key in source]
    if audio_keys:
        audio = tf.train.SequenceExample()
        for key in audio_keys:
            audio.feature_lists.feature_list[key].CopyFrom(source[key])
        data = audio.SerializeToString()
        records.append(data)
        context[schema.AUDIO_RECORD_OFFSET].int64_list.value[:] = [
                position, position + len(data) + RECORD_OVERHEAD_BYTES]
    return records, index


def _offset_keys(index: tf.train.SequenceExample):
    context = index.context.feature
    keys = [schema.frame_offsets_key(group) for group, _ in schema.FRAME_GROUPS]
    return [key for key in keys + [schema.AUDIO_RECORD_OFFSET] if key in context]


def _shifted(index: tf.train.SequenceExample, shift: int) -> tf.train.SequenceExample:
    moved = tf.train.SequenceExample()
    moved.CopyFrom(index)
    for key in _offset_keys(moved):
        values = moved.context.feature[key].int64_list.value
        values[:] = [v + shift for v in values]
    return moved


class ShardWriter:
    """Writes videos (full SequenceExamples) to `path` in this layout; any TF filesystem.

    Use as a context manager or call `close`: the index and footer are
    written last.
    """

    def __init__(self, path: str):
        self._writer = tf.io.TFRecordWriter(path)
        self._position = 0
        self._index: List[bytes] = []

    def add(self, example) -> None:
        """Adds a video's full SequenceExample (proto or bytes)."""
        self.add_split(*split_video(example))

    def add_split(self, records: Sequence[bytes], index) -> None:
        """Adds a video as `split_video` / `split_record` give it (index: proto or bytes)."""
        if isinstance(index, (bytes, bytearray)):
            index = tf.train.SequenceExample.FromString(bytes(index))
        # deterministic: map keys sorted, so the bytes do not depend on how the index
        # was built, parsed or pickled on the way (a proto map's order follows its history)
        self._index.append(_shifted(index, self._position).SerializeToString(
                deterministic=True))
        self._write(records)

    def _write(self, records: Iterable[bytes]) -> None:
        for data in records:
            self._writer.write(data)
            self._position += len(data) + RECORD_OVERHEAD_BYTES

    def close(self) -> None:
        start = self._position
        self._write(self._index)
        self._write([FOOTER_MAGIC + struct.pack("<QQ", start, len(self._index))])
        self._writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def write_shard_file(path: str, examples: Iterable) -> str:
    """Writes full SequenceExamples (protos or bytes) as one shard; returns `path`."""
    with ShardWriter(path) as writer:
        for example in examples:
            writer.add(example)
    return path


# --- reading in Python (tests, tools, checks before TensorFlow's runtime) ------------------

def _read_record(f, offset: int, size: int) -> bytes:
    """The data of the record at `offset` of the open file `f` of `size` bytes (no
    CRC check)."""
    f.seek(offset)
    header = f.read(12)
    length = struct.unpack("<Q", header[:8])[0] if len(header) == 12 else size
    if offset + length + RECORD_OVERHEAD_BYTES > size:
        raise ValueError(f"no whole record at byte {offset}")
    return f.read(length)


def read_index(path: str) -> List[tf.train.SequenceExample]:
    """The index records of shard `path`, with `tf.io.gfile` only (so it runs before
    TensorFlow's runtime starts). Raises ValueError naming the file when it has no
    valid footer (old layout, truncated, not a shard)."""
    size = tf.io.gfile.stat(path).length
    with tf.io.gfile.GFile(path, "rb") as f:
        try:
            footer = _read_record(f, size - FOOTER_RECORD_BYTES, size) \
                if size >= FOOTER_RECORD_BYTES else b""
            if len(footer) != FOOTER_DATA_BYTES or not footer.startswith(FOOTER_MAGIC):
                raise ValueError("no footer")
            position, count = struct.unpack("<QQ", footer[len(FOOTER_MAGIC):])
            index = []
            for _ in range(count):
                data = _read_record(f, position, size)
                index.append(tf.train.SequenceExample.FromString(data))
                position += len(data) + RECORD_OVERHEAD_BYTES
        except ValueError as error:
            raise ValueError(f"Shard {path} has no readable tsn-tf frame index ({error}): "
                             f"{CONVERT_HINT}.") from None
    return index


def join_video(index: tf.train.SequenceExample, read) -> tf.train.SequenceExample:
    """Inverse of `split_video` for an index with absolute offsets; `read(offset)` gives
    the data of the record at a file offset."""
    example = tf.train.SequenceExample()
    example.CopyFrom(index)
    context = example.context.feature
    lists = example.feature_lists.feature_list
    for group, keys in schema.FRAME_GROUPS:
        key = schema.frame_offsets_key(group)
        if key not in context:
            continue
        offsets = list(context[key].int64_list.value)
        for start in offsets[:-1]:
            for stream in keys:
                data = read(start)
                lists[stream].feature.add().bytes_list.value.append(data)
                start += len(data) + RECORD_OVERHEAD_BYTES
        del context[key]
    if schema.AUDIO_RECORD_OFFSET in context:
        audio = tf.train.SequenceExample.FromString(
                read(context[schema.AUDIO_RECORD_OFFSET].int64_list.value[0]))
        for key, value in audio.feature_lists.feature_list.items():
            lists[key].CopyFrom(value)
        del context[schema.AUDIO_RECORD_OFFSET]
    return example


def read_videos(path: str) -> List[tf.train.SequenceExample]:
    """Every video of shard `path` as its full SequenceExample (reads all frames)."""
    index = read_index(path)
    size = tf.io.gfile.stat(path).length
    with tf.io.gfile.GFile(path, "rb") as f:
        return [join_video(video, lambda offset: _read_record(f, offset, size))
                for video in index]


def list_shards(file_pattern: Union[str, Sequence[str]]):
    """Sorted files matching one pattern or a list of patterns, with their sizes.

    Returns:
      (paths, sizes): lists of str and int. Raises FileNotFoundError naming
      the pattern when nothing matches.
    """
    patterns = [file_pattern] if isinstance(file_pattern, str) else list(file_pattern)
    paths = []
    for pattern in patterns:
        matched = tf.io.gfile.glob(pattern)
        if not matched:
            raise FileNotFoundError(f"No TFRecord shards match {pattern!r}.")
        paths.extend(matched)
    paths = sorted(set(paths))
    return paths, [tf.io.gfile.stat(path).length for path in paths]
