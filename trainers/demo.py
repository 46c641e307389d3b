"""tsn-demo: the whole product on the embedded synthetic dataset, end to end.

    synthetic videos -> tsn-ingest (DIS flow) -> tsn-train (RGB, flow)
    -> tsn-eval (25 segments x crops) -> tsn-fuse -> tsn-export -> tsn-predict

Each step runs the real command-line tool in its own process, exactly as a
user would type it; the commands are printed before they run.
"""
import json
import os
import shlex
import subprocess
import sys
import time

from absl import app, flags, logging

from tsn_tf.input import synthetic

flags.DEFINE_string("workdir", "runs/demo", "Folder for videos, shards, runs and exports.")
flags.DEFINE_integer("videos_per_class", 12, "Synthetic videos per class (a quarter are test).")
flags.DEFINE_string("backbone", "tiny", "Backbone of both streams.")
flags.DEFINE_integer("input_size", 64, "Model input side in pixels.")
flags.DEFINE_integer("train_steps", 150, "Training steps per stream.")
flags.DEFINE_integer("eval_crops", 3, "Views per segment in evaluation (1, 3 or 10).")
flags.DEFINE_list("modalities", ["rgb", "flow"], "Streams to train, evaluate and fuse.")

FLAGS = flags.FLAGS


def run(module, *args):
    """Runs `python -m tsn_tf.<module> args`, echoing it; returns its last stdout line."""
    command = [sys.executable, "-m", f"tsn_tf.{module}", *args]
    print(f"\n$ {shlex.join(command[2:])}", flush=True)
    started = time.time()
    result = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    if result.returncode:
        sys.exit(f"tsn-demo: {module} failed with exit status {result.returncode}")
    lines = result.stdout.strip().splitlines()
    print(f"  ({time.time() - started:.0f} s) {lines[-1] if lines else ''}", flush=True)
    return lines[-1] if lines else ""


def main(argv):
    del argv
    workdir = FLAGS.workdir
    videos, shards = os.path.join(workdir, "videos"), os.path.join(workdir, "shards")
    # --- 1. synthetic videos
    print(f"== synthetic videos -> {videos}", flush=True)
    lists = synthetic.make_synthetic_dataset(videos, videos_per_class=FLAGS.videos_per_class)
    # --- 2. ingest
    run("input.ingest_main", f"--video_dir={videos}", "--list_format=csv",
        f"--list_files={lists['train']},{lists['test']}", f"--class_index={lists['classes']}",
        f"--output={shards}", "--flow=dis", "--short_side=72", "--num_shards=2")
    # --- 3-4. train and evaluate each stream
    score_files = []
    for modality in FLAGS.modalities:
        model_dir = os.path.join(workdir, "runs", modality)
        run("trainers.train", f"--train_shards={shards}/train-*", f"--model_dir={model_dir}",
            f"--backbone={FLAGS.backbone}", f"--input_size={FLAGS.input_size}",
            f"--modality={modality}", "--num_segments=3", "--batch_size=16",
            f"--train_steps={FLAGS.train_steps}", "--learning_rate=0.05", "--lr_schedule=cosine",
            "--save_every=1000", "--noprogress")
        run("trainers.evaluate", f"--model_dir={model_dir}", f"--eval_shards={shards}/test-*",
            f"--eval_crops={FLAGS.eval_crops}", "--eval_batch_size=4")
        score_files.append(os.path.join(model_dir, "eval", f"scores_{modality}.npz"))
    if len(score_files) == 2:
        run("trainers.fuse", f"--scores={','.join(score_files)}")
    logging.info("Demo finished; everything is under %s", workdir)


def run_main():
    app.run(main)


if __name__ == "__main__":
    run_main()
