"""tsn-predict: class labels of one video file from exported TSN SavedModels.

    tsn-predict --model=/models/tsn_rgb video.mp4
    tsn-predict --model=/models/tsn_rgb,/models/tsn_flow --flow_algorithm=tvl1 video.mp4
    tsn-predict --model=/models/tsn_rgb,/models/tsn_flow,/models/tsn_audio video.mp4
    tsn-predict --model=/models/tsn_rgb --untrimmed --timeline=video_timeline.png video.mp4

Prints the top-k labels with probabilities, one per line. Two or more models
are fused on pre-softmax scores (default weights RGB 1 : flow 1.5, audio 1).
An audio model scores the log-mel frames of the video's audio track; a
video without one skips it with a printed note. With
--untrimmed, one snippet per second is scored, M-TWI gives the video's
probabilities and a PNG timeline of the top classes is written.
"""
import os

from tsn_tf.trainers import cli  # first: quiets TensorFlow before it loads
from absl import app
from absl import flags

from tsn_tf.export import predict
from tsn_tf.export import timeline

FLAGS = flags.FLAGS
flags.DEFINE_list("model", None, "SavedModel folder(s) written by tsn-export: a version folder "
                  "or the model folder (latest version). Several, comma separated, are fused.")
flags.DEFINE_string("video", None, "Video file (or give it as the positional argument).")
flags.DEFINE_integer("top_k", 5, "Labels printed.", lower_bound=1)
flags.DEFINE_list("fusion_weights", [], "Weights of the models' pre-softmax scores, in "
                  "--model order (default: RGB 1, flow 1.5, audio 1; RGB:flow:warped flow "
                  "1:1:0.5).")
flags.DEFINE_enum("flow_algorithm", "tvl1", ["tvl1", "dis", "farneback"], "Optical flow "
                  "for flow models; use the one the training shards were ingested with.")
flags.DEFINE_integer("max_frames", None, "Decode at most this many frames.", lower_bound=1)
flags.DEFINE_bool("untrimmed", False, "Score one snippet per second and integrate with M-TWI.")
flags.DEFINE_string("timeline", None, "--untrimmed: PNG of the top classes over time, "
                    "written after the prediction is printed; a missing folder is created "
                    "(default: <video name>_timeline.png in the current folder).")
flags.mark_flag_as_required("model")
cli.require_numbers("fusion_weights")


def main(argv):
    if len(argv) > 2 or (len(argv) == 2) == bool(FLAGS.video):
        raise app.UsageError("Give one video file: positional or --video.")
    video_path = FLAGS.video or argv[1]
    if FLAGS.timeline and not (FLAGS.untrimmed and FLAGS.timeline.lower().endswith(".png")):
        raise app.UsageError(f"--timeline={FLAGS.timeline}: the timeline is a .png file, drawn "
                             "with --untrimmed.")
    models = [predict.load_served_model(path) for path in FLAGS.model]
    weights = [float(w) for w in FLAGS.fusion_weights]
    options = dict(weights=weights, flow_algorithm=FLAGS.flow_algorithm,
                   max_frames=FLAGS.max_frames)
    labels = models[0].labels
    if FLAGS.untrimmed:
        scores, timestamps = predict.snippet_scores(video_path, models, **options)
        probabilities = predict.untrimmed_probabilities(scores)
        print(f"{video_path}: {len(timestamps)} snippets (1 per second), M-TWI:")
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
