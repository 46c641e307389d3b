r"""tsn-export: a tsn-train run folder -> SavedModel version for TF Serving.

    tsn-export --model_dir=runs/ucf101_rgb --export_base=/models --model_name=tsn_rgb \
        [--version=3] [--checkpoint=runs/ucf101_rgb/ckpt/ckpt-3500] [--eval_crops=10]

Writes <export_base>/<model_name>/<version>/ (see tsn_tf.export.saved_model)
and prints its path; an existing version is never overwritten. An audio run
(--modality=audio) gets log-mel and waveform signatures (--eval_crops unused).
"""
import os

from tsn_tf.trainers import cli  # first: quiets TensorFlow before it loads
from absl import app
from absl import flags

from tsn_tf.export import saved_model

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "tsn-train run folder (run_config.json, "
                    "label_map.txt, ckpt/).")
flags.DEFINE_string("export_base", None, "Model repository root: the model goes to "
                    "<export_base>/<model_name>/<version>/.")
flags.DEFINE_string("model_name", None, "Served model name (default: the run folder's name).")
flags.DEFINE_integer("version", None, "Version number (default: one more than the largest "
                     "existing). Exporting to an existing version fails.", lower_bound=1)
flags.DEFINE_string("checkpoint", None, "Checkpoint path (default: latest in <model_dir>/ckpt).")
flags.DEFINE_integer("num_segments", 25, "K segments sampled per video at serving time.",
                     lower_bound=1)
flags.DEFINE_enum("eval_crops", "1", ["1", "3", "10"], "Views per segment: 1 centre crop, 3, "
                  "or 10 (4 corners + centre and their mirrors); audio has one view.")
flags.DEFINE_integer("top_k", 5, "Class labels returned per video.", lower_bound=1)
flags.DEFINE_bool("warmup", True, "Write assets.extra/tf_serving_warmup_requests.")
flags.mark_flags_as_required(["model_dir", "export_base"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    name = FLAGS.model_name or os.path.basename(os.path.normpath(FLAGS.model_dir))
    path = saved_model.export_saved_model(
            FLAGS.model_dir, FLAGS.export_base, name, version=FLAGS.version,
            checkpoint=FLAGS.checkpoint, num_segments=FLAGS.num_segments,
            eval_crops=int(FLAGS.eval_crops), top_k=FLAGS.top_k, warmup_requests=FLAGS.warmup)
    print(path)


def run():
    """Console-script entry point."""
    cli.run(main)


if __name__ == "__main__":
    run()
