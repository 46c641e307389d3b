"""Shard plan, the per-video task both drivers run, shard files, done-markers, manifest.

Layout of an output folder (local path or TF filesystem URL):

    train-00000-of-00004.tfrecord   the videos' frames, audio and index (`layout`)
    label_map.txt                   class name per line, line i = index i
    manifest.json                   counts, frames, flow settings, failures
    _ingest_state/<shard>.json      done-marker of each complete shard

A shard is written under a hidden temp name and renamed when complete; its
done-marker (written after the rename) holds a fingerprint of the shard's
videos and the ingest options, so a rerun skips exactly the shards that are
complete and still match, and rewrites the rest.
"""
import dataclasses
import glob
import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from typing import Dict, Iterable, List, Optional, Sequence

from tsn_tf.input.ingestion import storage
from tsn_tf.input.ingestion.lists import VideoEntry, format_label_map

STATE_DIR = "_ingest_state"
LABEL_MAP_FILE = "label_map.txt"
MANIFEST_FILE = "manifest.json"
# A --frame_size squash that changes width/height by less is not reported (320x240 as
# 340x256: x0.996); the rounding of --short_side is no change at all (`aspect_change`).
ASPECT_TOLERANCE = 0.01
LAYOUT_VERSION = "TSNIDX01"  # layout.FOOTER_MAGIC (shards.py imports no TensorFlow)


@dataclasses.dataclass(frozen=True)
class ShardSpec:
    """One output shard: its split, position, and the videos it holds in order."""
    split: str
    index: int
    count: int
    entries: tuple

    @property
    def name(self) -> str:
        return f"{self.split}-{self.index:05d}-of-{self.count:05d}.tfrecord"


@dataclasses.dataclass
class VideoResult:
    """What a worker returns for one video: its frame records and serialized index
    (`layout.split_record`), or why it failed."""
    media_id: str
    path: str
    split: str
    label_strings: tuple
    record: tuple = ()
    num_frames: int = 0
    num_flow_frames: int = 0
    reason: str = ""
    seconds: float = 0.0
    aspect_change: float = 1.0  # stored width/height over the source's

    @property
    def ok(self) -> bool:
        return not self.reason


def aspect_change(stored_size, source_size) -> float:
    """(stored width / height) / (source width / height): 1 when the shape is kept,
    also when the long side is off by the rounding of --short_side (at most 1 px)."""
    (width, height), (source_width, source_height) = stored_size, source_size
    if abs(width * source_height - height * source_width) <= min(source_width, source_height):
        return 1.0  # |long side - short side * source aspect| <= 1 px
    return (width / height) / (source_width / source_height)


# --- plan ----------------------------------------------------------------------

def _shuffle_key(media_id: str) -> str:
    """Stable pseudo-random order (same in every process and on every runner)."""
    return hashlib.sha1(media_id.encode()).hexdigest()


def plan_shards(entries: Sequence[VideoEntry], num_shards: Optional[int] = None,
                videos_per_shard: Optional[int] = None) -> List[ShardSpec]:
    """Deterministic shards per split: videos in a hash order, dealt round-robin.

    `num_shards` applies to each split (capped at its video count); otherwise
    `videos_per_shard` sets the count; one of them is required.
    """
    if (num_shards is None) == (videos_per_shard is None):
        raise ValueError("give exactly one of num_shards or videos_per_shard, got "
                         f"num_shards={num_shards}, videos_per_shard={videos_per_shard}")
    if (num_shards or videos_per_shard) < 1:
        raise ValueError(f"shard sizes must be >= 1, got num_shards={num_shards}, "
                         f"videos_per_shard={videos_per_shard}")
    specs = []
    for split in sorted({e.split for e in entries}):
        ordered = sorted((e for e in entries if e.split == split),
                         key=lambda e: (_shuffle_key(e.media_id), e.media_id))
        count = (min(num_shards, len(ordered)) if num_shards
                 else math.ceil(len(ordered) / videos_per_shard))
        specs += [ShardSpec(split, i, count, tuple(ordered[i::count])) for i in range(count)]
    return specs


def options_dict(options) -> dict:
    """Ingest options as plain JSON values."""
    values = dataclasses.asdict(options) if dataclasses.is_dataclass(options) else vars(options)
    return json.loads(json.dumps(values, default=list))


def fingerprint(spec: ShardSpec, label_map: Dict[str, int], options) -> str:
    """Hash of everything that determines a shard's bytes except the video contents."""
    content = {
        "name": spec.name, "options": options_dict(options),
        "layout": LAYOUT_VERSION,  # shards of an older layout are rewritten on a rerun
        "labels": sorted(label_map.items()),
        "videos": [dataclasses.astuple(e)[:5] for e in spec.entries],
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=list).encode()).hexdigest()


# --- per-video task -------------------------------------------------------------

def _local_copy(path: str, folder: str) -> str:
    """A local file with the bytes of `path` (a URL), for OpenCV to open."""
    local = os.path.join(folder, os.path.basename(path))
    storage.ensure_filesystem(path)
    storage.gfile().copy(path, local, overwrite=True)
    return local


def is_import(options) -> bool:
    """True for `rawframes.ImportOptions`: entries are frame folders, not video files."""
    from tsn_tf.input.ingestion import rawframes

    return isinstance(options, rawframes.ImportOptions)


def _import_folder(entry: VideoEntry, label_map: Dict[str, int], options):
    from tsn_tf.input.ingestion import rawframes

    return rawframes.import_folder(
            entry.path, media_id=entry.media_id,
            label_indices=[label_map[label] for label in entry.label_strings],
            label_strings=list(entry.label_strings), options=options,
            listed_frames=getattr(entry, "listed_frames", -1))


def ingest_entry(entry: VideoEntry, label_map: Dict[str, int], options) -> VideoResult:
    """Runs `encode.ingest_video` on one entry (`rawframes.import_folder` when `options`
    are `ImportOptions`); a bad video becomes a failure result.

    OpenCV runs single-threaded here (drivers parallelize over videos), so a
    video gives the same bytes in every driver and process.
    """
    import cv2
    from tsn_tf.input.ingestion import encode
    from tsn_tf.input.contract import layout

    result = VideoResult(entry.media_id, entry.path, entry.split, entry.label_strings)
    started = time.perf_counter()
    temp_dir = None
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        if is_import(options):
            record = _import_folder(entry, label_map, options)
        else:
            if not storage.exists(entry.path):
                result.reason = "file not found"
                return result
            path = entry.path
            if storage.is_url(path):
                temp_dir = tempfile.mkdtemp(prefix="tsn_ingest_")
                path = _local_copy(path, temp_dir)
            segments = [(start, end, label_map[label], label)
                        for start, end, label in entry.segments]
            record = encode.ingest_video(
                path, media_id=entry.media_id,
                label_indices=[label_map[label] for label in entry.label_strings],
                label_strings=list(entry.label_strings), options=options, segments=segments)
        record.data_path = entry.path
        records, index = layout.split_record(record)
        result.record = (records, index.SerializeToString())
        result.num_frames = len(record.rgb_jpegs)
        result.num_flow_frames = len(record.flow_x_jpegs)
        result.aspect_change = aspect_change((record.width, record.height), record.source_size)
    except Exception as error:  # noqa: BLE001 -- one bad video must not stop the dataset
        result.reason = f"{type(error).__name__}: {error}"
    finally:
        cv2.setNumThreads(threads)
        if temp_dir:
            shutil.rmtree(temp_dir, ignore_errors=True)
        result.seconds = time.perf_counter() - started
    return result


# --- shard files and done-markers ---------------------------------------------------

def shard_path(output: str, spec: ShardSpec) -> str:
    return storage.join(output, spec.name)


def marker_path(output: str, spec: ShardSpec) -> str:
    return storage.join(output, STATE_DIR, spec.name + ".json")


def read_marker(output: str, spec: ShardSpec) -> Optional[dict]:
    path = marker_path(output, spec)
    if not storage.exists(path):
        return None
    try:
        return json.loads(storage.read_text(path))
    except json.JSONDecodeError:
        return None


def _is_complete(output: str, spec: ShardSpec, marker: Optional[dict],
                 shard_fingerprint: str) -> bool:
    """True if the shard file exists and its `marker` matches this plan."""
    return (marker is not None and marker.get("fingerprint") == shard_fingerprint
            and storage.exists(shard_path(output, spec)))


def pending_shards(output: str, specs: Sequence[ShardSpec], label_map: Dict[str, int],
                   options, retry_failures: bool = False) -> list:
    """(spec, fingerprint) of the shards that are missing, incomplete or stale,
    and with `retry_failures` also the complete ones that recorded failures."""
    pending = []
    for spec in specs:
        shard_fingerprint = fingerprint(spec, label_map, options)
        marker = read_marker(output, spec)
        if not _is_complete(output, spec, marker, shard_fingerprint) or (
                retry_failures and marker["failures"]):
            pending.append((spec, shard_fingerprint))
    return pending


def write_shard(output: str, spec: ShardSpec, results: Iterable[VideoResult],
                shard_fingerprint: str) -> dict:
    """Writes the ok records of `results` (in order) to a temp file, renames it into
    place, then writes the done-marker. Returns the marker."""
    from tsn_tf.input.contract import layout

    final = shard_path(output, spec)
    temp = storage.join(output, f".{spec.name}.tmp-{os.getpid()}")
    videos, failures = [], []
    with layout.ShardWriter(temp) as writer:
        for result in results:
            if result.ok:
                writer.add_split(*result.record)
                videos.append({"media_id": result.media_id, "labels": list(result.label_strings),
                               "frames": result.num_frames,
                               "flow_frames": result.num_flow_frames,
                               "aspect_change": round(result.aspect_change, 4)})
            else:
                failures.append({"media_id": result.media_id, "path": result.path,
                                 "split": result.split, "reason": result.reason})
    storage.rename(temp, final)
    marker = {"shard": spec.name, "split": spec.split, "fingerprint": shard_fingerprint,
              "videos": videos, "failures": failures}
    storage.makedirs(storage.join(output, STATE_DIR))
    storage.write_text_atomic(marker_path(output, spec), json.dumps(marker, indent=1))
    return marker


def remove_stale_temps(output: str, spec: ShardSpec) -> None:
    """Deletes temp files a killed run left for this shard."""
    pattern = storage.join(output, f".{spec.name}.tmp-*")
    paths = storage.gfile().glob(pattern) if storage.is_url(output) else glob.glob(pattern)
    for path in paths:
        storage.remove(path)


def prepare_output(output: str, label_map: Dict[str, int]) -> None:
    """Creates the output folder and writes the label map beside the shards."""
    storage.ensure_filesystem(output)
    storage.makedirs(storage.join(output, STATE_DIR))
    storage.write_text_atomic(storage.join(output, LABEL_MAP_FILE), format_label_map(label_map))


# --- manifest -----------------------------------------------------------------------

def _new_split_summary() -> dict:
    return {"videos_listed": 0, "videos_ingested": 0, "failures": 0, "shards": [],
            "rgb_frames": 0, "flow_frames": 0, "min_frames": None, "max_frames": 0,
            "class_counts": {}}


def build_manifest(output: str, specs: Sequence[ShardSpec], label_map: Dict[str, int],
                   options) -> dict:
    """Aggregates the done-markers of `specs` into the manifest and writes it."""
    splits: Dict[str, dict] = {}
    failures, changes = [], []
    for spec in specs:
        marker = read_marker(output, spec) or {"videos": [], "failures": []}
        split = splits.setdefault(spec.split, _new_split_summary())
        split["videos_listed"] += len(spec.entries)
        split["shards"].append(spec.name)
        for video in marker["videos"]:
            split["videos_ingested"] += 1
            split["rgb_frames"] += video["frames"]
            split["flow_frames"] += video["flow_frames"]
            split["max_frames"] = max(split["max_frames"], video["frames"])
            split["min_frames"] = min(split["min_frames"] or video["frames"], video["frames"])
            for label in video["labels"]:
                split["class_counts"][label] = split["class_counts"].get(label, 0) + 1
        split["failures"] += len(marker["failures"])
        failures += marker["failures"]
        changes += [v["aspect_change"] for v in marker["videos"]
                    if abs(v.get("aspect_change", 1.0) - 1) > ASPECT_TOLERANCE]
    for split in splits.values():
        split["mean_frames"] = round(split["rgb_frames"] / max(split["videos_ingested"], 1), 2)
        split["class_counts"] = dict(sorted(split["class_counts"].items()))
    manifest = {
        "label_map": LABEL_MAP_FILE, "num_classes": len(label_map),
        "options": options_dict(options),
        "videos_listed": sum(s["videos_listed"] for s in splits.values()),
        "videos_ingested": sum(s["videos_ingested"] for s in splits.values()),
        "num_failures": len(failures), "splits": dict(sorted(splits.items())),
        "failures": failures,
        "aspect_ratio_changed": {"videos": len(changes), "min_factor": min(changes, default=1.0),
                                 "max_factor": max(changes, default=1.0)},
    }
    storage.write_text_atomic(storage.join(output, MANIFEST_FILE), json.dumps(manifest, indent=1))
    return manifest
