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
import sys

from tsn_tf.trainers import cli  # first: quiets TensorFlow before it loads
from absl import app, flags
import numpy as np

from tsn_tf.export import feature_files
from tsn_tf.input.ingestion import progress
from tsn_tf.input.pipeline import dataset as dataset_lib
from tsn_tf.input.pipeline import modalities
from tsn_tf.trainers import snippet_features

flags.DEFINE_string("shards", None, "Glob (or comma-separated globs) of tsn-ingest shards, "
                    "trimmed or untrimmed.")
flags.DEFINE_list("streams", None, "modality:run_folder per stream, e.g. rgb:runs/anet_rgb,"
                  "flow:runs/anet_flow (tsn-train / tsn-convert runs of rgb, flow, warped_flow "
                  "or rgb_diff); their columns come in this order.")
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
    if not FLAGS.shards or not FLAGS.streams or not FLAGS.output_dir:
        raise app.UsageError("--shards, --streams and --output_dir are required.")
    for entry in FLAGS.streams:
        modality, _, path = entry.partition(":")
        if modality not in snippet_features.MODALITIES or not path:
            raise app.UsageError(f"--streams: {entry!r} is not modality:run_folder with a "
                                 f"modality of {', '.join(snippet_features.MODALITIES)}")


def _streams():
    streams = []
    for entry in FLAGS.streams:
        modality, _, path = entry.partition(":")
        stream = snippet_features.load_stream(path, modality)
        kind = modalities.get_stream(modality)
        dataset_lib.check_snippet_interval(FLAGS.interval, kind.default_length + kind.extra_frames,
                                           modality)
        streams.append(stream)
    return streams


def _columns(streams, kinds):
    """The manifest's column blocks: per stream and output kind, [start, stop)."""
    blocks, start = [], 0
    for stream in streams:
        dims = stream.dims()
        for kind in kinds:
            blocks.append({"stream": stream.name, "model_dir": stream.model_dir,
                           "modality": stream.modality, "kind": kind,
                           "columns": [start, start + dims[kind]]})
            start += dims[kind]
    return blocks


def main(argv):
    del argv
    _check_flags()
    kinds = ["features", "scores"] if FLAGS.outputs == "both" else [FLAGS.outputs]
    writer = feature_files.FeatureWriter(
            FLAGS.output_dir, formats=FLAGS.formats, interval=FLAGS.interval,
            num_positions=FLAGS.num_positions, rescaling=FLAGS.rescaling, subset=FLAGS.subset,
            file_name=FLAGS.file_name)
    writer.check_writable()
    streams = _streams()
    writer.set_run(streams=_columns(streams, kinds),
                   views="centre crop" if FLAGS.crops == "1" else "10-crop mean",
                   snippet="mmaction2 UntrimmedSampleFrames: centres interval // 2 + t * "
                   "interval; RGB the centre frame, flow the L frames around it")
    videos = snippet_features.list_videos(FLAGS.shards, streams, FLAGS.interval)
    todo = []
    for video in videos:
        if writer.done(video.media_id):
            continue
        if video.frame_rate <= 0:
            writer.record_failure(video.media_id, "its shard records no frame rate")
            continue
        if video.snippets == 0:
            writer.record_skip(video.media_id, f"shorter than one snippet: {video.num_frames} "
                               f"frames (flow: one fewer), the first snippet is centred on "
                               f"frame {FLAGS.interval // 2}")
            continue
        todo.append(video)
    return _extract(streams, kinds, todo, writer)


def _extract(streams, kinds, videos, writer):
    entries = {video.media_id: video for video in videos}
    bar = progress.bar(sum(video.snippets for video in videos), "snippet",
                       postfix=f"video 0/{len(videos)}")
    failures = done = 0
    for result in snippet_features.video_features(
            streams, FLAGS.shards, list(entries), interval=FLAGS.interval,
            eval_crops=int(FLAGS.crops), snippets_per_chunk=FLAGS.snippets_per_chunk):
        video = entries[result.media_id]
        if isinstance(result, snippet_features.VideoFailed):
            failures += 1
            message = cli.error_message(result.error).replace("\n", " ")
            bar.write(f"error: {result.media_id}: {message} (skipped)", file=sys.stderr)
            writer.record_failure(result.media_id, message)
        else:
            columns = [outputs[kind] for outputs in result.outputs for kind in kinds]
            writer.write(result.media_id, np.concatenate(columns, axis=1), result.times,
                         num_frames=video.num_frames, frame_rate=video.frame_rate)
        done += 1
        bar.set_postfix_str(f"video {done}/{len(videos)}, failures {failures}", refresh=False)
        bar.update(video.snippets)
    bar.close()
    print(f"Wrote the features of {done - failures} videos to {FLAGS.output_dir}"
          + (f"; {failures} failed (listed in manifest.json)" if failures else ""))
    return 1 if failures else 0


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
