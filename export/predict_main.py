"""tsn-predict: class labels of one video file from exported TSN SavedModels.

    tsn-predict --model=/models/tsn_rgb video.mp4
    tsn-predict --model=/models/tsn_rgb,/models/tsn_flow video.mp4
    tsn-predict --model=/models/tsn_rgb,/models/tsn_flow,/models/tsn_audio video.mp4
    tsn-predict --model=/models/tsn_rgb --untrimmed --timeline=video_timeline.png video.mp4

Prints the top-k labels with probabilities, one per line. Two or more models
are fused on pre-softmax scores (default weights RGB 1 : flow 1.5, audio 1).
An audio model scores the log-mel frames of the video's audio track; a
video without one skips it with a printed note. With
--untrimmed, one snippet per second is scored, M-TWI gives the video's
probabilities and a PNG timeline of the top classes is written.

Each model reads the video as its training shards were made (recorded by
tsn-train and tsn-export: frame size or short side, JPEG quality, flow
algorithm and bound); --flow_algorithm, --frame_size and --short_side
override that with a note on stderr. A truncated file is refused unless
--allow_truncated (tsn-ingest's rule).

Flow models whose flow is OpenCV's (TV-L1, DIS, Farneback) get flow computed
only for the frame pairs their test protocol reads (25 x 5 pairs trimmed, 5
a snippet untrimmed; the other positions of the request hold a placeholder
the model never decodes, same scores); --all_flow_pairs computes every pair.
"""
import os
import sys

from tsn_tf.trainers import cli  # first: quiets TensorFlow before it loads
from absl import app
from absl import flags

from tsn_tf.export import predict
from tsn_tf.export import timeline
from tsn_tf.input.contract import preprocessing
from tsn_tf.input.ingestion import flow as flow_lib
from tsn_tf.input.ingestion import video

FLAGS = flags.FLAGS
flags.DEFINE_list("model", None, "SavedModel folder(s) written by tsn-export: a version folder "
                  "or the model folder (latest version). Several, comma separated, are fused.")
flags.DEFINE_string("video", None, "Video file (or give it as the positional argument).")
flags.DEFINE_integer("top_k", 5, "Labels printed.", lower_bound=1)
flags.DEFINE_list("fusion_weights", [], "Weights of the models' pre-softmax scores, in "
                  "--model order (default: RGB 1, flow 1.5, audio 1; RGB:flow:warped flow "
                  "1:1:0.5).")
flags.DEFINE_enum("flow_algorithm", None, list(flow_lib.FLOW_ALGORITHMS), "Optical flow for "
                  "flow models (default: the one each model's training shards were ingested "
                  "with, recorded in its export); a different one is reported.")
flags.DEFINE_string("frame_size", None, "Resize frames to WIDTHxHEIGHT (default: as each "
                    "model's training shards; a different size is reported).")
flags.DEFINE_integer("short_side", None, "Resize frames to this short side (default: as each "
                     "model's training shards; a different size is reported).", lower_bound=1)
flags.DEFINE_integer("max_frames", None, "Decode at most this many frames.", lower_bound=1)
flags.DEFINE_bool("allow_truncated", False, "Score the decodable frames of a truncated video "
                  "(as tsn-ingest --allow_truncated) instead of refusing it.")
flags.DEFINE_integer("flow_workers", os.cpu_count() or 1, "Processes computing one video's "
                     "TV-L1 flow (frame ranges in parallel; the result equals 1 process's). "
                     "DIS and Farneback, milliseconds a pair, run in this process.",
                     lower_bound=1)
flags.DEFINE_bool("all_flow_pairs", False, "Compute the optical flow of every frame pair "
                  "instead of only the pairs each flow model's test protocol samples (its K "
                  "segments x L pairs, e.g. 25 x 5; --untrimmed: L pairs a snippet). The "
                  "scores are the same; for comparison and timing.")
flags.DEFINE_bool("untrimmed", False, "Score one snippet per second and integrate with M-TWI.")
flags.DEFINE_string("timeline", None, "--untrimmed: PNG of the top classes over time, "
                    "written after the prediction is printed; a missing folder is created "
                    "(default: <video name>_timeline.png in the current folder).")
flags.mark_flag_as_required("model")
cli.require_numbers("fusion_weights")


def resize_flag():
    """--frame_size / --short_side as `preprocessing.resize_text`, or None (the models' own)."""
    if FLAGS.frame_size and FLAGS.short_side:
        raise app.UsageError("Give --frame_size or --short_side, not both.")
    if FLAGS.short_side:
        return preprocessing.resize_text(short_side=FLAGS.short_side)
    if not FLAGS.frame_size:
        return None
    try:
        # as tsn-ingest
        return preprocessing.resize_text(video.parse_frame_size(FLAGS.frame_size))
    except ValueError as error:
        raise app.UsageError(str(error)) from None


def main(argv):
    if len(argv) > 2 or (len(argv) == 2) == bool(FLAGS.video):
        raise app.UsageError("Give one video file: positional or --video.")
    video_path = FLAGS.video or argv[1]
    video.check_file(video_path)  # before loading models: the likeliest typo, named first
    if FLAGS.timeline and not (FLAGS.untrimmed and FLAGS.timeline.lower().endswith(".png")):
        raise app.UsageError(f"--timeline={FLAGS.timeline}: the timeline is a .png file, drawn "
                             "with --untrimmed.")
    resize = resize_flag()  # a bad flag is named before the models load
    models = [predict.load_served_model(path) for path in FLAGS.model]
    weights = [float(w) for w in FLAGS.fusion_weights]
    read = predict.ReadOptions(flow_algorithm=FLAGS.flow_algorithm, resize=resize,
                               max_frames=FLAGS.max_frames,
                               allow_truncated=FLAGS.allow_truncated,
                               flow_workers=FLAGS.flow_workers, progress=True,
                               all_flow_pairs=FLAGS.all_flow_pairs)
    for note in predict.preprocessing_notes(models, read):
        print(f"note: {note}", file=sys.stderr)
    options = dict(weights=weights, options=read)
    labels = models[0].labels
    if FLAGS.untrimmed:
        scores, timestamps = predict.snippet_scores(video_path, models, **options)
        probabilities = predict.untrimmed_probabilities(scores, models[0].snippets_per_second)
        print(f"{video_path}: {len(timestamps)} snippets "
              f"({models[0].snippets_per_second:g} per second), M-TWI:")
    else:
        prediction = predict.score_video(video_path, models, **options)
        probabilities = prediction.probabilities
        for note in prediction.notes:
            print(f"note: {note}")
        print(f"{video_path}:")
    for rank, (label, probability) in enumerate(
            predict.top_k(probabilities, labels, FLAGS.top_k), start=1):
        print(f"{rank}. {label}\t{probability:.4f}")
    if FLAGS.untrimmed:  # after the prediction: a bad --timeline path loses nothing
        path = FLAGS.timeline or \
            f"{os.path.splitext(os.path.basename(video_path))[0]}_timeline.png"
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        top_classes = list(probabilities.argsort()[::-1][:3])
        timeline.draw_timeline(path, timestamps, predict.softmax(scores), labels, top_classes)
        print(f"timeline written to {path}")


def run():
    """Console-script entry point."""
    cli.run(main)


if __name__ == "__main__":
    run()
