"""tsn-fuse: weighted sum of several streams' pre-softmax video scores.

    tsn-fuse --scores=runs/rgb/eval/scores_rgb.npz,runs/flow/eval/scores_flow.npz \\
        --fusion_weights=1,1.5
"""
import json

from tsn_tf.trainers import cli  # first: quiets TensorFlow before it loads
from absl import app, flags

from tsn_tf import metrics
from tsn_tf.trainers.reports import load_stream, summarize

flags.DEFINE_list("scores", None, "Score files written by tsn-eval, one per stream.")
flags.DEFINE_list("fusion_weights", None, "One weight per stream (default by each file's modality: "
                  "RGB 1, flow 1.5, audio 1; RGB:flow:warped flow 1:1:0.5).")

FLAGS = flags.FLAGS
cli.require_numbers("fusion_weights")


def fuse_files(paths, weights=None):
    """Fused (media_ids, scores, labels, class_names) over the videos all files share."""
    streams = [load_stream(path) for path in paths]
    ids, _, labels, class_names, _ = streams[0]
    for path, (other_ids, _, _, other_names, _) in zip(paths[1:], streams[1:]):
        if other_names != class_names:
            raise ValueError(f"{path} has other classes than {paths[0]}.")
        if set(other_ids) != set(ids):
            raise ValueError(f"{path} scores other videos than {paths[0]} "
                             f"({len(set(ids) ^ set(other_ids))} differ).")
    aligned = []
    for other_ids, scores, _, _, _ in streams:
        order = {media_id: index for index, media_id in enumerate(other_ids)}
        aligned.append(scores[[order[media_id] for media_id in ids]])
    if weights is None:
        modalities = [stream[4] for stream in streams]
        weights = metrics.default_fusion_weights(modalities) if all(modalities) else None
    return ids, metrics.fuse_scores(aligned, weights), labels, class_names


def main(argv):
    del argv
    if not FLAGS.scores or len(FLAGS.scores) < 2:
        raise app.UsageError("--scores needs two or more score files.")
    weights = [float(w) for w in FLAGS.fusion_weights] if FLAGS.fusion_weights else None
    _, scores, labels, class_names = fuse_files(FLAGS.scores, weights)
    print(json.dumps(summarize(scores, labels, len(class_names))))


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
