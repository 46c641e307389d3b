"""tsn-demo: the whole product on the embedded synthetic dataset, end to end.

    synthetic videos -> tsn-ingest (DIS flow) -> tsn-train (RGB, flow)
    -> tsn-eval (25 segments x crops) -> tsn-fuse -> tsn-export -> tsn-predict

Each step runs the real command-line tool in its own process, exactly as a
user would type it; the commands are printed before they run.

The steps run without TensorFlow's oneDNN kernels (TF_ENABLE_ONEDNN_OPTS=0
unless set): on Linux TF turns them on only for CPUs with AVX512_VNNI,
AVX512_BF16, AVX_VNNI or AMX, and they change the rounding enough that 200
steps from scratch end elsewhere (README: the figures measured both ways).
"""
import json
import os

from tsn_tf.trainers import cli  # first: quiets TensorFlow before it loads
from absl import flags, logging

from tsn_tf import synthetic
from tsn_tf.trainers.commands import FROM_SCRATCH_FLAGS, run

flags.DEFINE_string("workdir", "runs/demo", "Folder for videos, shards, runs and exports.")
flags.DEFINE_integer("videos_per_class", 12, "Synthetic videos per class (a quarter are test).",
                     lower_bound=4)
flags.DEFINE_string("backbone", "small", "Backbone of both streams (trained from scratch: "
                    "no pretrained weights, so partial BN is off).")
flags.DEFINE_integer("input_size", 64, "Model input side in pixels.", lower_bound=16)
flags.DEFINE_integer("train_steps", 200, "Training steps per stream.", lower_bound=1)
flags.DEFINE_integer("eval_crops", 3, "Views per segment in evaluation (1, 3 or 10).")
flags.DEFINE_list("modalities", ["rgb", "flow"], "Streams to train, evaluate and fuse.")

FLAGS = flags.FLAGS


def print_results(results):
    """Held-out accuracy per stream and fused, as a Markdown table."""
    print("\n| stream | videos | top-1 | top-5 | mean class accuracy |\n|---|---|---|---|---|")
    for name, line in results.items():
        values = json.loads(line)
        print(f"| {name} | {values['videos']} | {values['top1']:.1f} | {values['top5']:.1f} | "
              f"{values['mean_class_accuracy']:.1f} |")


def main(argv):
    del argv
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # the same kernels on every x86 CPU
    workdir = FLAGS.workdir
    videos, shards = os.path.join(workdir, "videos"), os.path.join(workdir, "shards")
    # --- 1. synthetic videos
    print(f"== synthetic videos -> {videos}", flush=True)
    lists = synthetic.make_synthetic_dataset(videos, videos_per_class=FLAGS.videos_per_class)
    # --- 2. ingest
    run("input.ingestion.ingest_main", f"--video_dir={videos}", "--list_format=csv",
        f"--list_files={lists['train']},{lists['test']}", f"--class_index={lists['classes']}",
        f"--output={shards}", "--flow=dis", "--short_side=72", "--num_shards=2")
    # --- 3-4. train, evaluate and export each stream
    score_files, exports, results = [], [], {}
    for modality in FLAGS.modalities:
        model_dir = os.path.join(workdir, "runs", modality)
        run("trainers.train", f"--train_shards={shards}/train-*", f"--model_dir={model_dir}",
            f"--backbone={FLAGS.backbone}", f"--input_size={FLAGS.input_size}",
            f"--modality={modality}", *FROM_SCRATCH_FLAGS, f"--train_steps={FLAGS.train_steps}",
            "--save_every=1000", "--noprogress", "--deterministic")
        results[modality] = run("trainers.evaluate", f"--model_dir={model_dir}",
                                f"--eval_shards={shards}/test-*",
                                f"--eval_crops={FLAGS.eval_crops}", "--eval_batch_size=4")
        score_files.append(os.path.join(model_dir, "eval", f"scores_{modality}.npz"))
        exports.append(os.path.join(workdir, "exports", modality))
        run("export.export_main", f"--model_dir={model_dir}",
            f"--export_base={os.path.join(workdir, 'exports')}", f"--model_name={modality}")
    if len(score_files) == 2:
        results[" + ".join(FLAGS.modalities)] = run("trainers.fuse",
                                                    f"--scores={','.join(score_files)}")
    print_results(results)
    # --- 5. predict a held-out video with the exported model(s)
    with open(lists["test"]) as f:
        video, label = f.readline().strip().rsplit(",", 1)
    print(f"\n== held-out video {video} (true class: {label})", flush=True)
    run("export.predict_main", f"--model={','.join(exports)}",  # as trained: DIS, short side 72
        os.path.join(videos, video), capture=False)
    logging.info("Demo finished; everything is under %s", workdir)


def run_main():
    cli.run(main)


if __name__ == "__main__":
    run_main()
