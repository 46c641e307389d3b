"""tsn-features: per-snippet TSN features for temporal action localization (BSN, BMN, G-TAD).

    tsn-features --shards='data/anet/val-*' --streams=rgb:runs/anet_rgb,flow:runs/anet_flow \\
        --output_dir=features/anet --interval=16 --file_name='v_{media_id}'

One snippet every --interval frames, centred on frame ``interval // 2 + t *
interval`` (mmaction2's UntrimmedSampleFrames, the snippets of BSN/BMN's TSN
features: 16 on ActivityNet, 5 on THUMOS14): the RGB stream on the centre
frame, the flow stream on the 5 flow frames around it. Per snippet and
stream: the pre-softmax class scores (the classic 200 + 200 ActivityNet
files), the backbone's pooled features, or both (--outputs), averaged over
the views (--crops: centre crop or the 10-crop mean). Streams are
concatenated in --streams order over the snippets they all have.

Writes under --output_dir (--formats): npy/<video>.npy (T, D) and
times/<video>.npy, csv/<video>.csv (THUMOS-style, unrescaled),
csv_mean_<P>/<video>.csv (rescaled to P = 100 positions by BSN's
data_process.py interpolation, what BMN reads), video_info.csv (BSN's
columns) and manifest.json (videos, lengths, columns, models). Finished videos
are skipped when the command runs again; a video that fails to read is named,
recorded and skipped while the rest continue; a video shorter than one
snippet is recorded as skipped with no file.
"""
import glob
import os
import sys

from tsn_tf.trainers import cli  # first: quiets TensorFlow before it loads
from absl import app, flags
import numpy as np

from tsn_tf.export import feature_files
from tsn_tf.export import predict
from tsn_tf.export import video_features
from tsn_tf.input.ingestion import progress
from tsn_tf.input.pipeline import sampling
from tsn_tf.input.pipeline import modalities
from tsn_tf.trainers import snippet_features

flags.DEFINE_string("shards", None, "Glob (or comma-separated globs) of tsn-ingest shards, "
                    "trimmed or untrimmed; --streams then names tsn-train / tsn-convert runs.")
flags.DEFINE_list("videos", None, "Video files (globs) to read instead of --shards; --streams "
                  "then names tsn-export SavedModels, which read each video as their training "
                  "shards were made (OpenCV flow only for the pairs the snippets read).")
flags.DEFINE_integer("flow_workers", 1, "--videos: processes computing TV-L1 flow.",
                     lower_bound=1)
flags.DEFINE_list("streams", None, "modality:folder per stream, e.g. rgb:runs/anet_rgb,"
                  "flow:runs/anet_flow (rgb, flow, warped_flow or rgb_diff; a run folder with "
                  "--shards, an export with --videos); their columns come in this order.")
flags.DEFINE_string("output_dir", None, "Where the feature files and manifest.json go.")
flags.DEFINE_integer("interval", 16, "Frames between snippet centres (ActivityNet 16, "
                     "THUMOS14 5); at least the frames a snippet reads (5 for flow).",
                     lower_bound=1)
flags.DEFINE_enum("outputs", "scores", ["scores", "features", "both"], "Per stream: pre-softmax "
                  "class scores, the backbone's pooled features, or both (features first).")
flags.DEFINE_enum("crops", "1", ["1", "10"], "Views per snippet: the centre crop, or the mean "
                  "over the 10 crops (4 corners + centre and their mirrors).")
flags.DEFINE_list("formats", list(feature_files.FORMATS), "Files to write: npy (T, D) with "
                  "times, csv (unrescaled), csv_mean (rescaled to --num_positions).")
flags.DEFINE_integer("num_positions", 100, "csv_mean: positions of the rescaled sequence.",
                     lower_bound=1)
flags.DEFINE_enum("rescaling", "bsn", ["bsn", "mmaction2"], "csv_mean: BSN's data_process.py "
                  "(time-based, zero rows outside the snippets) or mmaction2's "
                  "activitynet_feature_postprocessing.py (index-based).")
flags.DEFINE_string("file_name", "{media_id}", "File name of a video's files; ActivityNet's "
                    "BSN/BMN files are 'v_{media_id}'.")
flags.DEFINE_string("subset", "", "video_info.csv's subset column (BMN: training, validation).")
flags.DEFINE_integer("snippets_per_chunk", 32, "Snippets decoded at once (bounds memory for "
                     "long videos).", lower_bound=1)

FLAGS = flags.FLAGS


def _check_flags():
    if bool(FLAGS.shards) == bool(FLAGS.videos) or not FLAGS.streams or not FLAGS.output_dir:
        raise app.UsageError("--shards or --videos (one of them), --streams and --output_dir "
                             "are required.")
    if FLAGS.videos and FLAGS.crops != "1":
        raise app.UsageError("--crops is for --shards; an export scores the views it was "
                             "exported with (tsn-export --eval_crops)")
    if FLAGS.shards and FLAGS.flow_workers != 1:
        raise app.UsageError("--flow_workers is for --videos; shards hold their flow")


def _stream_entries():
    """[(modality, folder)] of --streams; the interval checked against each modality."""
    entries = []
    for entry in FLAGS.streams:
        modality, _, path = entry.partition(":")
        if modality not in snippet_features.MODALITIES or not path:
            raise app.UsageError(f"--streams: {entry!r} is not modality:folder with a "
                                 f"modality of {', '.join(snippet_features.MODALITIES)}")
        sampling.check_interval(FLAGS.interval, modalities.get_stream(modality).default_items,
                                modality)
        entries.append((modality, path))
    return entries


def _columns(streams, kinds):
    """The manifest's column blocks: per stream and output kind, [start, stop).

    streams: dicts with name, model_dir, modality, views and dims ({kind: columns})."""
    blocks, start = [], 0
    for stream in streams:
        for kind in kinds:
            size = stream["dims"][kind]
            blocks.append({**{k: v for k, v in stream.items() if k != "dims"}, "kind": kind,
                           "columns": [start, start + size]})
            start += size
    return blocks


def _views(crops: int) -> str:
    return "centre crop" if crops == 1 else f"{crops}-crop mean"


def main(argv):
    del argv
    _check_flags()
    entries = _stream_entries()
    kinds = ["features", "scores"] if FLAGS.outputs == "both" else [FLAGS.outputs]
    writer = feature_files.FeatureWriter(
            FLAGS.output_dir, formats=FLAGS.formats, interval=FLAGS.interval,
            num_positions=FLAGS.num_positions, rescaling=FLAGS.rescaling, subset=FLAGS.subset,
            file_name=FLAGS.file_name)
    extract = _from_videos if FLAGS.videos else _from_shards
    return extract(entries, kinds, writer)


def _set_run(writer, streams, kinds):
    """The output folder checked (made once the models loaded) and the run recorded."""
    writer.check_writable()
    writer.set_run(streams=_columns(streams, kinds),
                   snippet="mmaction2 UntrimmedSampleFrames: centres interval // 2 + t * "
                   "interval; RGB the centre frame, flow the L frames around it",
                   views=sorted({stream["views"] for stream in streams}))


def _from_shards(entries, kinds, writer):
    streams = [snippet_features.load_stream(path, modality) for modality, path in entries]
    _set_run(writer, [dict(name=s.name, model_dir=s.model_dir, checkpoint=s.checkpoint,
                           modality=s.modality, views=_views(int(FLAGS.crops)), dims=s.dims())
                      for s in streams], kinds)
    videos, earlier = [], 0
    for video in snippet_features.shard_videos(FLAGS.shards, streams, FLAGS.interval):
        if writer.done(video.media_id):
            earlier += 1
        elif video.frame_rate <= 0:
            writer.record_failure(video.media_id, "its shard records no frame rate")
        elif video.snippets == 0:
            _skip(writer, video.media_id, video.num_frames)
        else:
            videos.append(video)
    entries = {video.media_id: video for video in videos}
    bar = progress.bar(sum(video.snippets for video in videos), "snippet",
                       postfix=f"video 0/{len(videos)}")
    count = _Count(bar, len(videos), earlier)
    chunks = []  # snippets the bar counted for the current video
    for result in snippet_features.video_features(
            streams, FLAGS.shards, list(entries), interval=FLAGS.interval,
            eval_crops=int(FLAGS.crops), snippets_per_chunk=FLAGS.snippets_per_chunk,
            on_chunk=lambda snippets: chunks.append(snippets) or bar.update(snippets)):
        video = entries[result.media_id]
        if isinstance(result, snippet_features.VideoFailed):
            count.failed(writer, result.media_id, result.error)
        else:
            _write(writer, result, kinds, video.num_frames, video.frame_rate)
        count.done(video.snippets - sum(chunks))
        chunks.clear()
    return count.close()


def _from_videos(entries, kinds, writer):
    models = []
    for modality, path in entries:
        model = predict.load_served_model(path)
        snippet_features.check_modality(path, model.modality, modality)
        models.append(model)
    _set_run(writer, [dict(name=f"{os.path.basename(m.path.rstrip('/'))}:{m.modality}",
                           model_dir=m.path, modality=m.modality,
                           views=_views(m.view_settings.eval_crops),
                           dims=video_features.output_dims(m)) for m in models], kinds)
    paths = _video_paths(FLAGS.videos)
    options = predict.ReadOptions(flow_workers=FLAGS.flow_workers)
    todo = {media_id: path for media_id, path in paths.items() if not writer.done(media_id)}
    bar = progress.bar(len(todo), "video", postfix="snippets 0")
    count, snippets = _Count(bar, len(todo), len(paths) - len(todo)), 0
    for media_id, path in todo.items():
        try:
            results = video_features.video_snippet_features(
                    path, models, interval=FLAGS.interval, options=options,
                    snippets_per_call=FLAGS.snippets_per_chunk)
        except cli.expected_errors() as error:
            count.failed(writer, media_id, error)
        else:
            video = snippet_features.joined(media_id, [
                    (r.times, {"features": r.features, "scores": r.scores}) for r in results])
            if len(video.times):
                _write(writer, video, kinds, results[0].num_frames, results[0].frame_rate)
                snippets += len(video.times)
            else:
                _skip(writer, media_id, results[0].num_frames, bar)
                count.skipped += 1
        count.done(1, f"snippets {snippets}")
    return count.close()


def _video_paths(patterns):
    """{media_id (file name without extension): path} of the --videos globs."""
    paths = {}
    for pattern in patterns:
        found = sorted(glob.glob(pattern))
        if not found:
            raise FileNotFoundError(f"--videos: no file matches {pattern!r}")
        for path in found:
            media_id = os.path.splitext(os.path.basename(path))[0]
            if paths.setdefault(media_id, path) != path:
                raise ValueError(f"--videos: {paths[media_id]} and {path} would both be video "
                                 f"{media_id!r}; give each video its own file name")
    return paths


def _skip(writer, media_id, num_frames, bar=None):
    """Records a video shorter than one snippet (no file) and says so on stderr."""
    reason = (f"shorter than one snippet: {num_frames} frames (flow: one fewer), the first "
              f"snippet is centred on frame {FLAGS.interval // 2}")
    (bar.write if bar else print)(f"note: {media_id}: {reason}; no feature file, listed as "
                                  "skipped in manifest.json", file=sys.stderr)
    writer.record_skip(media_id, reason)


def _write(writer, video, kinds, num_frames, frame_rate):
    columns = [outputs[kind] for outputs in video.outputs for kind in kinds]
    writer.write(video.media_id, np.concatenate(columns, axis=1), video.times,
                 num_frames=num_frames, frame_rate=frame_rate)


class _Count:
    """The bar's video count and failures; failures named on stderr and in the manifest."""

    def __init__(self, bar, total, earlier):
        self.bar, self.total, self.earlier = bar, total, earlier
        self.finished = self.failures = self.skipped = 0

    def failed(self, writer, media_id, error):
        self.failures += 1
        message = cli.error_message(error).replace("\n", " ")
        self.bar.write(f"error: {media_id}: {message} (skipped)", file=sys.stderr)
        writer.record_failure(media_id, message)

    def done(self, steps, more=""):
        self.finished += 1
        self.bar.set_postfix_str(f"video {self.finished}/{self.total}, failures "
                                 f"{self.failures}" + (f", {more}" if more else ""),
                                 refresh=False)
        self.bar.update(steps)

    def close(self) -> int:
        """Prints what was written; exit status 1 if a video failed."""
        self.bar.close()
        written = self.finished - self.failures - self.skipped
        print(f"Wrote the features of {written} videos to {FLAGS.output_dir}"
              + (f" ({self.earlier} done or skipped earlier)" if self.earlier else "")
              + (f"; {self.failures} failed (listed in manifest.json)" if self.failures else ""))
        return 1 if self.failures else 0


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
