"""tsn-eval: video-level accuracy with the paper's test protocol.

    tsn-eval --model_dir=runs/ucf101_rgb --eval_shards='data/ucf101/test-*'

25 segments x 10 crops by default (1 and 3 crops as options); pre-softmax
scores are averaged over crops after the model's consensus over segments.
Writes per-video scores (for tsn-fuse), metrics JSON, a confusion-matrix PNG
and TensorBoard scalars / image under model_dir. With --untrimmed: the
aggregation table, and with --write_snippet_scores each video's per-snippet
scores (``snippet_scores_<modality>.npz``, `untrimmed.save_snippet_scores`).

Audio (one view, no crops): a video without an audio track gets all-zero
scores in the score file (no evidence: neutral in tsn-fuse's weighted sum)
and is left out of the stream's metrics, which count it as
``videos_without_audio``.
"""
import json
import os

from tsn_tf.trainers import cli  # first: quiets TensorFlow before it loads
from absl import app, flags, logging
import keras
import numpy as np
import tensorflow as tf

from tsn_tf.input.pipeline import frame_check
from tsn_tf.input import pipeline
from tsn_tf.trainers import flags_common, reports, untrimmed
from tsn_tf.trainers.reports import summarize
from tsn_tf.trainers.model_dir import RunConfig, read_label_map, restore_model

flags.DEFINE_string("eval_shards", None, "Glob of the evaluation TFRecord shards.")
flags.DEFINE_integer("eval_segments", 25, "Segments per video (the paper: 25).", lower_bound=1)
flags.DEFINE_enum("eval_crops", "10", ["1", "3", "10"], "Views per segment: centre, 3 crops, or "
                  "4 corners + centre and their flips.")
flags.DEFINE_integer("eval_batch_size", 1, "Videos per evaluation batch.", lower_bound=1)
flags.DEFINE_string("checkpoint", None, "A checkpoint path (default: the latest in model_dir).")
flags.DEFINE_string("output_dir", None, "Where scores and reports go (default: model_dir/eval).")
flags.DEFINE_bool("untrimmed", False, "Untrimmed videos (ActivityNet / THUMOS14 shards): score "
                  "snippets at --snippet_rate, compare average, top-k and M-TWI aggregation "
                  "by mAP over classes and hit@1.")
flags.DEFINE_float("snippet_rate", 1.0, "--untrimmed: snippets per second.", lower_bound=0.001)
flags.DEFINE_integer("snippet_interval", None, "--untrimmed: snippets centred every this many "
                     "frames (the snippets of BSN/BMN features and tsn-features) in place of "
                     "--snippet_rate; M-TWI then takes each video's rate from its snippet times.",
                     lower_bound=1)
flags.DEFINE_integer("snippets_per_chunk", 32, "--untrimmed: snippets decoded at once (bounds "
                     "memory for long videos).", lower_bound=1)
flags.DEFINE_bool("write_snippet_scores", False, "--untrimmed: also write every snippet's "
                  "scores to snippet_scores_<modality>.npz (held in memory until the end).")

FLAGS = flags.FLAGS




def eval_dataset(config, shards, *, num_segments, eval_crops, batch_size, **options):
    """The evaluation dataset of the run `config` (`make_dataset` options added)."""
    mean, std = config.normalization()
    return pipeline.make_dataset(shards, modality=config.modality, num_segments=num_segments,
                                 training=False, batch_size=batch_size, mean=mean, std=std,
                                 output_size=config.input_size, eval_crops=eval_crops,
                                 num_classes=config.num_classes, **options)


def score_videos(model, dataset, progress=True):
    """Pre-softmax video scores: the model's consensus over segments, then the mean over crops.

    Args:
        model: a TSN model over K segments (e.g. `restore_model(dir, 25)`).
        dataset: evaluation batches (clips (B, crops, K, S, S, C), labels, extras).
    Returns:
        media_ids (N,) str, scores (N, classes) float32, labels (N,) int.
    """
    return score_stream(model, dataset, progress)[:3]


def score_stream(model, dataset, progress=True):
    """`score_videos` plus present (N,) bool: False for a video whose stream is missing
    (``extras["audio_present"]`` False), whose scores are then all zero."""
    predict = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    ids, scores, labels, present = [], [], [], []
    bar = keras.utils.Progbar(None, unit_name="video", verbose=1 if progress else 0)
    for clips, batch_labels, extras in dataset:
        batch, crops = clips.shape[0], clips.shape[1]
        flat = tf.reshape(clips, (batch * crops, *clips.shape[2:]))
        crop_scores = tf.reshape(predict(flat), (batch, crops, -1))
        mask = extras["audio_present"].numpy() if "audio_present" in extras \
            else np.ones([batch], bool)
        scores.append(tf.reduce_mean(crop_scores, axis=1).numpy() * mask[:, None])
        present.append(mask)
        labels.append(batch_labels.numpy())
        ids.extend(m.decode() for m in extras["media_id"].numpy())
        bar.add(batch)
    if not ids:
        raise ValueError("The evaluation shards hold no video.")
    bar.update(len(ids), finalize=True)
    return (np.array(ids), np.concatenate(scores), np.concatenate(labels),
            np.concatenate(present))


def evaluate_untrimmed(strategy, config, output_dir):
    """Aggregation table (average, top-k, M-TWI) of untrimmed videos, written as JSON, and
    with --write_snippet_scores the per-snippet scores (`untrimmed.save_snippet_scores`)."""
    interval = FLAGS.snippet_interval
    dataset = eval_dataset(config, FLAGS.eval_shards, num_segments=1,
                           eval_crops=int(FLAGS.eval_crops), batch_size=1,
                           untrimmed_fps=None if interval else FLAGS.snippet_rate,
                           snippet_interval=interval, multi_label=True,
                           snippets_per_chunk=FLAGS.snippets_per_chunk)
    with strategy.scope():
        model = restore_model(FLAGS.model_dir, 1, FLAGS.checkpoint)
    videos = untrimmed.video_snippet_scores(model, dataset)
    if FLAGS.write_snippet_scores:
        videos = list(videos)
        untrimmed.save_snippet_scores(
                os.path.join(output_dir, f"snippet_scores_{config.modality}.npz"), videos)
    table, _, _ = untrimmed.evaluate_videos(videos, None if interval else FLAGS.snippet_rate)
    with tf.io.gfile.GFile(os.path.join(output_dir, "metrics_untrimmed.json"), "w") as f:
        json.dump(table, f, indent=2)
    print(json.dumps(table))


def main(argv):
    del argv
    if not FLAGS.model_dir or not FLAGS.eval_shards:
        raise app.UsageError("--model_dir and --eval_shards are required.")
    strategy = flags_common.strategy_from_flags()
    config = RunConfig.load(FLAGS.model_dir)
    class_names = read_label_map(FLAGS.model_dir)
    output_dir = FLAGS.output_dir or os.path.join(FLAGS.model_dir, "eval")
    tf.io.gfile.makedirs(output_dir)
    if FLAGS.untrimmed:
        return evaluate_untrimmed(strategy, config, output_dir)
    # --- data
    dataset = eval_dataset(config, FLAGS.eval_shards, num_segments=FLAGS.eval_segments,
                           eval_crops=int(FLAGS.eval_crops), batch_size=FLAGS.eval_batch_size)
    # --- model
    with strategy.scope():
        model = restore_model(FLAGS.model_dir, FLAGS.eval_segments, FLAGS.checkpoint)
    # --- scores and reports
    media_ids, scores, labels, present = score_stream(model, dataset)
    if not present.any():
        raise ValueError(f"No video of {FLAGS.eval_shards} has a {config.modality} stream.")
    results = summarize(scores[present], labels[present], config.num_classes)
    crops = 1 if config.modality == "audio" else int(FLAGS.eval_crops)
    results.update(modality=config.modality, segments=FLAGS.eval_segments, crops=crops)
    if not present.all():
        results["videos_without_audio"] = int((~present).sum())
    reports.save_scores(os.path.join(output_dir, f"scores_{config.modality}.npz"), media_ids,
                        scores, labels, class_names, config.modality)
    reports.write_report(output_dir, results, scores[present].argmax(1), labels[present],
                         class_names)
    logging.info("Wrote %s", output_dir)
    print(json.dumps(results))


def run():
    cli.run(main, explain=lambda error: frame_check.explain(error, FLAGS.eval_shards))


if __name__ == "__main__":
    run()
