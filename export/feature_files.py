"""Per-snippet feature files for temporal action localization (BSN / BMN / G-TAD).

Layout under the output folder (every file written to a temp name, then renamed:
`storage.write_atomic`):

  npy/<stem>.npy           float32 (T, D): all streams' features side by side
  times/<stem>.npy         float64 (T,): snippet centre times, seconds (always written)
  csv/<stem>.csv           header f0..f{D-1}, T rows (THUMOS-style, not rescaled)
  csv_mean_<P>/<stem>.csv  header f0..f{D-1}, P rows rescaled (BSN / BMN read these)
  manifest.json            the run (streams, columns, interval, ...) and every video
  video_info.csv           BSN / BMN's video,numFrame,seconds,fps,rfps,subset,featureFrame

Resuming: `FeatureWriter.done` is true for a video written earlier (its files are
still there) or skipped earlier (a skip reason such as "shorter than one snippet"
does not change between runs); failed videos are tried again.
"""
import csv
import json
import os

import numpy as np

from tsn_tf import feature_rescaling
from tsn_tf.input.ingestion import storage

FORMATS = ("npy", "csv", "csv_mean")
RESCALINGS = ("bsn", "mmaction2")
VIDEO_INFO_COLUMNS = ("video", "numFrame", "seconds", "fps", "rfps", "subset", "featureFrame")
CSV_NUMBER = "%.9g"  # 9 significant digits round-trip any float32


def file_stem(media_id: str, template: str = "{media_id}") -> str:
    """File name (no extension) of a video: `template` formatted with media_id, path
    separators replaced by "__" (e.g. template "v_{media_id}" for BSN's ActivityNet
    names)."""
    stem = template.format(media_id=media_id)
    for separator in {"/", os.sep}:
        stem = stem.replace(separator, "__")
    if stem in ("", ".", ".."):
        raise ValueError(f"media id {media_id!r} with file name template {template!r} "
                         f"gives no usable file name ({stem!r})")
    return stem


def write_csv(path: str, values) -> None:
    """Header f0..f{D-1}, one row per line, no index column (pandas.read_csv reads it)."""
    values = np.asarray(values, np.float32)
    header = ",".join(f"f{i}" for i in range(values.shape[1]))
    storage.write_atomic(path, lambda file: np.savetxt(
            file, values, fmt=CSV_NUMBER, delimiter=",", header=header, comments=""))


class FeatureWriter:
    """Writes each video's feature files and keeps manifest.json / video_info.csv
    up to date after every video, so a killed run loses at most one video."""

    def __init__(self, output_dir: str, *, interval: int, formats=FORMATS,
                 num_positions: int = 100, rescaling: str = "bsn", subset: str = "",
                 file_name: str = "{media_id}"):
        unknown = sorted(set(formats) - set(FORMATS))
        if unknown or not formats:
            raise ValueError(f"formats must be a non-empty subset of {FORMATS}; "
                             f"received {tuple(formats)}")
        if rescaling not in RESCALINGS:
            raise ValueError(f"rescaling must be one of {RESCALINGS}; "
                             f"received {rescaling!r}")
        try:
            file_stem("media_id", file_name)
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError(f"file name template {file_name!r} must name only {{media_id}} "
                             f"({type(error).__name__}: {error})") from None
        self.output_dir, self.interval, self.formats = str(output_dir), interval, tuple(formats)
        self.num_positions, self.rescaling = num_positions, rescaling
        self.subset, self.file_name = subset, file_name
        self.manifest = self._read_manifest()
        self._owners = {entry["stem"]: media_id for media_id, entry
                        in self.manifest["videos"].items() if entry["status"] == "done"}

    # --- run-level -------------------------------------------------------------

    def check_writable(self) -> None:
        """Creates the output folder if needed; one-line OSError if it cannot be
        created, is not a folder or is not writable."""
        folder = self.output_dir
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise NotADirectoryError(f"output folder {folder!r} is not a folder")
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as error:
            raise OSError(f"output folder {folder!r} does not exist and cannot be "
                          f"created: {error.strerror or error}") from None
        probe = os.path.join(folder, ".write-probe.tmp")
        try:
            with open(probe, "w"):
                pass
            os.remove(probe)
        except OSError as error:
            raise PermissionError(f"output folder {folder!r} is not writable: "
                                  f"{error.strerror or error}") from None

    def set_run(self, *, streams, views, **more) -> None:
        """Records the run in the manifest: streams = [{"name", "model_dir", "modality",
        "kind" ("features"/"scores"), "columns": [start, stop]}, ...] whose columns
        tile [0, D), views and any more keys; the writer adds its interval, rescaling
        and num_positions. A folder holding videos of a different run is refused
        (its features would not line up)."""
        stops = 0
        for stream in sorted(streams, key=lambda stream: stream["columns"][0]):
            start, stop = stream["columns"]
            if start != stops or stop <= start:
                raise ValueError(f"stream columns must tile [0, D) without gaps; received "
                                 f"{[stream['columns'] for stream in streams]}")
            stops = stop
        run = json.loads(json.dumps(dict(
            streams=streams, views=views, interval=self.interval, rescaling=self.rescaling,
            num_positions=self.num_positions, **more)))
        earlier = self.manifest.get("run")
        if earlier and earlier != run and self.manifest["videos"]:
            differing = sorted(k for k in run.keys() | earlier.keys()
                               if run.get(k) != earlier.get(k))
            raise ValueError(f"output folder {self.output_dir!r} holds features of another "
                             f"run ({', '.join(differing)} differ); use another folder")
        self.manifest["run"] = run
        self._save()

    # --- per video -------------------------------------------------------------

    def stem(self, media_id: str) -> str:
        """File stem of `media_id`; ValueError if another video already has it."""
        stem = file_stem(media_id, self.file_name)
        owner = self._owners.setdefault(stem, media_id)
        if owner != media_id:
            raise ValueError(f"media ids {owner!r} and {media_id!r} both give the file "
                             f"name {stem!r}; change the file name template")
        return stem

    def done(self, media_id: str) -> bool:
        """True if an earlier run wrote this video (and its files are still there) or
        skipped it; False for new or failed videos."""
        entry = self.manifest["videos"].get(media_id)
        if not entry or entry["status"] == "failed":
            return False
        if entry["status"] == "skipped":
            return True
        stem = file_stem(media_id, self.file_name)
        return entry["stem"] == stem and all(map(os.path.isfile, self._paths(stem).values()))

    def write(self, media_id: str, features, times, *, num_frames: int,
              frame_rate: float) -> None:
        """Writes the video's files, then records it (status "done") in the manifest."""
        features = np.asarray(features, np.float32)
        times = np.asarray(times, np.float64)
        if features.ndim != 2 or not len(features) or times.shape != features.shape[:1]:
            raise ValueError(f"{media_id!r}: features must be (T, D) with T >= 1 and times "
                             f"(T,); received {features.shape} and {times.shape}")
        columns = self._run_columns()
        if columns is not None and features.shape[1] != columns:
            raise ValueError(f"{media_id!r}: features have {features.shape[1]} columns; "
                             f"the run's streams give {columns}")
        stem = self.stem(media_id)
        paths = self._paths(stem)
        for path in paths.values():
            os.makedirs(os.path.dirname(path), exist_ok=True)
        storage.write_atomic(paths["times"], lambda file: np.save(file, times), "wb")
        if "npy" in paths:
            storage.write_atomic(paths["npy"], lambda file: np.save(file, features), "wb")
        if "csv" in paths:
            write_csv(paths["csv"], features)
        if "csv_mean" in paths:
            write_csv(paths["csv_mean"], self._rescale(features, frame_rate))
        self._record(media_id, status="done", stem=stem, num_snippets=len(features),
                     dim=features.shape[1], num_frames=int(num_frames),
                     frame_rate=float(frame_rate), seconds=num_frames / frame_rate,
                     feature_frames=len(features) * self.interval, subset=self.subset)

    def record_failure(self, media_id: str, reason: str) -> None:
        """Lists the video as failed (no files); a later run tries it again."""
        self._record(media_id, status="failed", reason=str(reason))

    def record_skip(self, media_id: str, reason: str) -> None:
        """Lists the video as skipped (no files), e.g. "shorter than one snippet"; a
        later run does not try it again."""
        self._record(media_id, status="skipped", reason=str(reason))

    # --- internals -------------------------------------------------------------

    def _paths(self, stem):
        folders = {"times": "times", "npy": "npy", "csv": "csv",
                   "csv_mean": f"csv_mean_{self.num_positions}"}
        kinds = ("times",) + self.formats
        return {kind: os.path.join(self.output_dir, folders[kind],
                                   stem + (".npy" if kind in ("times", "npy") else ".csv"))
                for kind in kinds}

    def _rescale(self, features, frame_rate):
        if self.rescaling == "mmaction2":
            return feature_rescaling.mmaction2_rescale(features, self.num_positions)
        return feature_rescaling.bsn_rescale(features, interval=self.interval,
                                             frame_rate=frame_rate,
                                             num_positions=self.num_positions)

    def _run_columns(self):
        streams = self.manifest.get("run", {}).get("streams")
        return max(stream["columns"][1] for stream in streams) if streams else None

    def _record(self, media_id, **entry):
        videos = self.manifest["videos"]
        videos.pop(media_id, None)  # a retried video moves to the end
        videos[media_id] = entry
        self._save()

    def _read_manifest(self):
        path = os.path.join(self.output_dir, "manifest.json")
        if not os.path.isfile(path):
            return {"videos": {}}
        with open(path) as file:
            try:
                manifest, reason = json.load(file), "no 'videos' table"
            except ValueError as error:
                manifest, reason = None, str(error)
        if not isinstance(manifest, dict) or not isinstance(manifest.get("videos"), dict):
            raise ValueError(f"{path!r} is not a feature manifest ({reason}); delete it "
                             "or use another folder")
        return manifest

    def _save(self):
        os.makedirs(self.output_dir, exist_ok=True)
        storage.write_atomic(os.path.join(self.output_dir, "manifest.json"),
                     lambda file: json.dump(self.manifest, file, indent=1))
        storage.write_atomic(os.path.join(self.output_dir, "video_info.csv"),
                             self._write_video_info)

    def _write_video_info(self, file):
        rows = csv.writer(file, lineterminator="\n")
        rows.writerow(VIDEO_INFO_COLUMNS)
        rows.writerows((entry["stem"], entry["num_frames"], entry["seconds"],
                        entry["frame_rate"], entry["frame_rate"], entry["subset"],
                        entry["feature_frames"])
                       for entry in self.manifest["videos"].values()
                       if entry["status"] == "done")
