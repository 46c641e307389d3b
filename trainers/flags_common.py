"""Flags shared by tsn-train and tsn-eval: the run folder and the strategy."""
from absl import flags

from tsn_tf.trainers import strategies

flags.DEFINE_string("model_dir", None, "Run folder: checkpoints, run_config.json, label map, "
                    "TensorBoard events. Training resumes from its latest checkpoint.")
flags.DEFINE_enum("strategy", "default", list(strategies.STRATEGIES),
                  "tf.distribute strategy; multi_worker reads the cluster from TF_CONFIG.")
flags.DEFINE_integer("cpu_replicas", 0, "Split the CPU into this many logical devices (for "
                     "--strategy=mirrored on a machine without accelerators). 0: don't split.",
                     lower_bound=0)
flags.DEFINE_string("tpu", "", "TPU address for --strategy=tpu (code path present, untested: "
                    "no TPU here).")
flags.DEFINE_integer("seed", 0, "Seed of initialization, shuffling and augmentation.")

FLAGS = flags.FLAGS


def strategy_from_flags():
    """Splits the CPU if asked, then builds the strategy named by --strategy."""
    if FLAGS.cpu_replicas:
        strategies.split_cpu(FLAGS.cpu_replicas)
    return strategies.make_strategy(FLAGS.strategy, FLAGS.tpu)
