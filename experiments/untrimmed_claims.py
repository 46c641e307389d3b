"""Average vs top-k vs M-TWI on the synthetic untrimmed set; prints a Markdown table.

    .venv/bin/python experiments/untrimmed_claims.py --workdir=runs/untrimmed

Trains RGB and flow streams (small backbone, from scratch) on trimmed
synthetic videos, then scores long synthetic videos (background with one or
two annotated actions) at 1 snippet per second with `tsn-eval --untrimmed`.
A report, not a test: numbers vary with seeds.
"""
import json
import os

from absl import app, flags

from tsn_tf import synthetic
from tsn_tf.trainers.commands import run
from tsn_tf.trainers.untrimmed import AGGREGATIONS

flags.DEFINE_string("workdir", "runs/untrimmed", "Folder for videos, shards and runs.")
flags.DEFINE_integer("videos_per_class", 16, "Trimmed training videos per class.")
flags.DEFINE_integer("untrimmed_videos", 24, "Untrimmed videos to evaluate.")
flags.DEFINE_integer("untrimmed_seconds", 40, "Length of each untrimmed video.")
flags.DEFINE_integer("train_steps", 300, "Training steps per stream.")
FLAGS = flags.FLAGS
FPS = 25


def main(argv):
    del argv
    work = FLAGS.workdir
    trimmed = synthetic.make_synthetic_dataset(os.path.join(work, "trimmed"),
                                               videos_per_class=FLAGS.videos_per_class,
                                               test_fraction=0.0)
    long_videos = synthetic.make_synthetic_dataset(
        os.path.join(work, "untrimmed"), videos_per_class=FLAGS.untrimmed_videos // 4,
        num_frames=FLAGS.untrimmed_seconds * FPS, fps=FPS, untrimmed=True, seed=1)
    shards, long_shards = os.path.join(work, "shards"), os.path.join(work, "shards_untrimmed")
    run("input.ingestion.ingest_main", f"--video_dir={os.path.join(work, 'trimmed')}",
        "--list_format=csv",
        f"--list_files={trimmed['train']}", f"--class_index={trimmed['classes']}",
        f"--output={shards}", "--flow=dis", "--short_side=72", "--num_shards=2")
    run("input.ingestion.ingest_main", f"--video_dir={os.path.join(work, 'untrimmed')}",
        "--list_format=activitynet", f"--list_files={long_videos['annotations']}",
        f"--class_index={trimmed['classes']}", f"--output={long_shards}", "--flow=dis",
        "--short_side=72", "--num_shards=2")
    rows = {}
    for modality in ("rgb", "flow"):
        model_dir = os.path.join(work, "runs", modality)
        run("trainers.train", f"--train_shards={shards}/train-*", f"--model_dir={model_dir}",
            "--flagfile=configs/synthetic_demo.cfg", f"--modality={modality}",
            f"--train_steps={FLAGS.train_steps}", "--noprogress")
        rows[modality] = json.loads(run(
            "trainers.evaluate", "--untrimmed", f"--model_dir={model_dir}",
            f"--eval_shards={long_shards}/*.tfrecord", "--eval_crops=1"))
    print("| stream | " + " | ".join(f"{m} mAP | {m} hit@1" for m in AGGREGATIONS) + " |")
    print("|---|" + "---|---|" * len(AGGREGATIONS))
    for modality, table in rows.items():
        print(f"| {modality} | " + " | ".join(
            f"{table[m]['mAP']:.1f} | {table[m]['top1']:.0f}" for m in AGGREGATIONS) + " |")


if __name__ == "__main__":
    app.run(main)
