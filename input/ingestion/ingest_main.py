"""tsn-ingest: a folder of videos (or of extracted frame folders) plus a split/label list
-> MediaSequence TFRecord shards.

Examples:
  tsn-ingest --video_dir=UCF-101 --list_format=ucf101 \\
      --list_files=ucfTrainTestlist --split_number=1 --output=/data/ucf101_s1
  tsn-ingest --frames_dir=ucf101_frames --list_format=rawframes \\
      --list_files=ucf101_rgb_train_split_1.txt,ucf101_rgb_val_split_1.txt \\
      --class_index=classInd.txt --imported_flow=tvl1_tsn --output=/data/ucf101_s1
  tsn-ingest --video_dir=gs://b/kinetics --list_format=kinetics \\
      --list_files=gs://b/train.csv --output=gs://b/k400 --flow=dis \\
      --runner=DataflowRunner -- --project=p --region=europe-west1 \\
      --temp_location=gs://b/tmp --setup_file=./setup.py

Arguments after `--` are passed to the Beam runner as pipeline options.
Exit status: 0 if at most --max_failures videos failed, 1 if more did,
2 for bad flags or a malformed list.
"""
import os
import sys

from tsn_tf.trainers import cli  # first: quiets TensorFlow before it loads
from absl import flags

from tsn_tf.input.ingestion import flow as flow_lib
from tsn_tf.input.ingestion import lists, storage, video

FLAGS = flags.FLAGS

flags.DEFINE_string("video_dir", None, "Folder (or URL) holding the videos the list names.")
flags.DEFINE_string("frames_dir", None,
                    "Instead of --video_dir: folder (or URL) of extracted frame folders "
                    "(dense_flow, denseflow/mmaction2, tsn-pytorch; -o zip archives too) that a "
                    "--list_format=rawframes list names relative to it. Their JPEG bytes are "
                    "copied unchanged unless --frame_size or --short_side is given (then decoded, "
                    "resized and re-encoded). See README, 'Import extracted frames'.")
flags.DEFINE_string("rgb_template", "img_{:05d}.jpg", "--frames_dir: RGB file name template "
                    "(Python format of the frame number).")
flags.DEFINE_string("flow_x_template", "flow_x_{:05d}.jpg", "--frames_dir: flow x template.")
flags.DEFINE_string("flow_y_template", "flow_y_{:05d}.jpg", "--frames_dir: flow y template.")
flags.DEFINE_integer("start_index", None, "--frames_dir: number of the first frame file "
                     "(dense_flow: 1, denseflow: 0); default: 0 or 1, whichever exists.",
                     lower_bound=0)
flags.DEFINE_float("frame_rate", 30.0, "--frames_dir: frames per second of the extracted "
                   "frames (folders do not record it; UCF101 and HMDB51 are 25-30 fps); "
                   "timestamps are i / rate, used by untrimmed evaluation.", lower_bound=0.001)
flags.DEFINE_string("imported_flow", "unspecified",
                    "--frames_dir: name of the algorithm that made the folders' flow, recorded "
                    "as flow algorithm 'imported:<name>' (e.g. tvl1_tsn for TSN-caffe's "
                    "dense_flow, tvl1_denseflow for mmaction2's). With --flow given "
                    "explicitly the flow is computed from the RGB frames instead.")
flags.DEFINE_enum("list_format", None, list(lists.FORMATS),
                  "Format of the list files: ucf101 (classInd + trainlist/testlist), hmdb51 "
                  "(<class>_test_split<N>.txt), kinetics (CSV), activitynet (JSON), thumos14 "
                  "(<Class>_val.txt annotations), csv (path,label[;label...][,split]; without "
                  "the split column, the split named in the file name: train.csv, test.csv; "
                  "else train) or rawframes (with --frames_dir: '<folder> <num_frames> "
                  "<label> [<label>...]' lines of TSN-caffe, tsn-pytorch and mmaction2; 0-based "
                  "labels, named by --class_index; split from the file name).")
flags.DEFINE_list("list_files", None,
                  "Comma-separated list files; for ucf101, hmdb51 and thumos14 a single "
                  "folder of the official split/annotation files also works.")
flags.DEFINE_string("class_index", None,
                    "Label map fixing the class order: UCF101 classInd.txt (1-based, stored "
                    "0-based) or a label_map.txt; default: sorted class names. For rawframes "
                    "also the HMDB51 split folder (sorted class names, as TSN and mmaction2 "
                    "number them); without one, class i is named 'i'.")
flags.DEFINE_integer("split_number", 1, "Official split (1-3) when --list_files is the "
                     "ucf101 or hmdb51 split folder.", lower_bound=1)
flags.DEFINE_list("split", [], "Keep only these splits (train, val, test); default all.")
flags.DEFINE_string("output", None, "Output folder or TF filesystem URL (gs://, s3://, az://).")
flags.DEFINE_list("modalities", ["rgb", "flow"],
                  "Streams to store: any of rgb, flow, warped_flow, audio.")
flags.DEFINE_enum("flow", "tvl1", list(flow_lib.FLOW_ALGORITHMS),
                  "Optical flow: tvl1 (OpenCV's CPU TV-L1), dis or farneback (faster); "
                  "tvl1_tsn / tvl1_denseflow / tvl1_opencv: TV-L1 as TensorFlow ops on "
                  "any TF device, batched, in the variant TSN's / mmaction2's models / "
                  "tvl1 were made with (use --workers=1 on a GPU). With --frames_dir only "
                  "when given: the flow is then computed from the imported RGB frames (else "
                  "read from the folders' flow files).")
flags.DEFINE_float("flow_bound", 20.0, "Flow is clipped to +-bound px before 8-bit quantization.",
                   lower_bound=0.001)
flags.DEFINE_string("frame_size", "340x256", "Stored frame size WIDTHxHEIGHT (TSN: 340x256). "
                    "With --frames_dir only when given: frames are then decoded, resized and "
                    "re-encoded (default there: the bytes as they are).")
flags.DEFINE_integer("short_side", None, "Resize to this short side (keeps aspect ratio) "
                     "instead of --frame_size (pass only one of the two).")
flags.DEFINE_integer("max_frames", None, "Keep at most this many frames per video.")
flags.DEFINE_integer("jpeg_quality", 90, "JPEG quality (0-100) of stored frames. With "
                     "--frames_dir: the quality recorded for copied frames (default 95, OpenCV's, "
                     "which dense_flow, denseflow and mmcv write with) or used to re-encode.",
                     lower_bound=0, upper_bound=100)
flags.DEFINE_bool("allow_truncated", False, "Keep the decodable frames of a truncated video "
                  "instead of recording it as a failure.")
flags.DEFINE_integer("num_shards", None, "Shards per split (overrides --videos_per_shard).")
flags.DEFINE_integer("videos_per_shard", 100, "Videos per shard when --num_shards is unset.")
flags.DEFINE_integer("workers", None, "Local worker processes (default: all cores; 0 runs in "
                     "the main process).")
flags.DEFINE_string("runner", "local", "'local' (process pool) or a Beam runner name "
                    "(DirectRunner, DataflowRunner, FlinkRunner, SparkRunner, ...).")
flags.DEFINE_bool("retry_failures", False, "On a rerun, also rewrite complete shards that "
                  "recorded failed videos (e.g. after downloading missing files).")
flags.DEFINE_integer("max_failures", 0, "Exit with status 1 if more videos than this fail.")


class FlagError(ValueError):
    """A flag value that cannot work, named by its flag."""


def check_common_flags() -> None:
    """The counts and sizes both sources take; raises FlagError naming the flag."""
    for name in ("short_side", "max_frames", "num_shards", "videos_per_shard"):
        value = getattr(FLAGS, name)
        if value is not None and value < 1:
            raise FlagError(f"--{name} must be >= 1, got {value}")
    if FLAGS.workers is not None and FLAGS.workers < 0:
        raise FlagError(f"--workers must be >= 0, got {FLAGS.workers}")
    if FLAGS.max_failures < 0:
        raise FlagError(f"--max_failures must be >= 0, got {FLAGS.max_failures}")
    if FLAGS.short_side and FLAGS["frame_size"].present:
        raise FlagError(f"--short_side={FLAGS.short_side} and --frame_size={FLAGS.frame_size} "
                        "both set the stored frame size: pass one of them")


def ingest_options():
    """IngestOptions from the flags; bad values raise FlagError naming the flag."""
    check_common_flags()
    if "audio" in FLAGS.modalities:
        try:
            import av  # noqa: F401 -- the audio decoder (input/ingestion/audio.py)
        except ImportError:
            raise FlagError("--modalities=...,audio needs PyAV: pip install av") from None
    size = None if FLAGS.short_side else video.parse_frame_size(FLAGS.frame_size)
    from tsn_tf.input.ingestion import encode  # imports TensorFlow: only once the flags look right
    try:
        return encode.IngestOptions(
            modalities=tuple(FLAGS.modalities), flow_algorithm=FLAGS.flow,
            flow_bound=FLAGS.flow_bound, size=size, short_side=FLAGS.short_side,
            jpeg_quality=FLAGS.jpeg_quality, max_frames=FLAGS.max_frames,
            allow_truncated=FLAGS.allow_truncated)
    except ValueError as error:
        raise FlagError(f"--modalities/--flow_bound/--jpeg_quality: {error}") from None


def source_dir() -> str:
    """--frames_dir or --video_dir, whichever is set."""
    return FLAGS.frames_dir or FLAGS.video_dir


def check_paths() -> None:
    """Required flags are set and the inputs exist."""
    if bool(FLAGS.video_dir) == bool(FLAGS.frames_dir):
        raise FlagError("pass one of --video_dir (videos) and --frames_dir (extracted frames)")
    if bool(FLAGS.frames_dir) != (FLAGS.list_format == "rawframes"):
        raise FlagError("--frames_dir goes with --list_format=rawframes (<folder> <num_frames> "
                        "<label>... lines), and --list_format=rawframes with --frames_dir")
    for name in ("list_format", "list_files", "output"):
        if not getattr(FLAGS, name):
            raise FlagError(f"--{name} is required (see --help)")
    for name, paths in (("video_dir" if FLAGS.video_dir else "frames_dir", [source_dir()]),
                        ("list_files", FLAGS.list_files),
                        ("class_index", [FLAGS.class_index] if FLAGS.class_index else [])):
        for path in paths:
            if not storage.exists(path):
                raise FlagError(f"--{name}: {path} does not exist")


def import_options():
    """rawframes.ImportOptions from the flags; bad values raise FlagError naming the flag."""
    for name in ("max_frames", "allow_truncated"):
        if FLAGS[name].present:
            raise FlagError(f"--{name} applies to videos, not to --frames_dir")
    if "audio" in FLAGS.modalities:
        raise FlagError("--modalities=audio needs videos: frame folders hold no sound")
    check_common_flags()
    from tsn_tf.input.ingestion import rawframes  # imports TensorFlow
    try:
        layout = rawframes.FrameLayout(FLAGS.rgb_template, FLAGS.flow_x_template,
                                       FLAGS.flow_y_template, FLAGS.start_index)
        return rawframes.ImportOptions(
                modalities=tuple(FLAGS.modalities), layout=layout,
                imported_flow=FLAGS.imported_flow, flow_bound=FLAGS.flow_bound,
                frame_rate=FLAGS.frame_rate,
                compute_flow=FLAGS.flow if FLAGS["flow"].present else None,
                size=video.parse_frame_size(FLAGS.frame_size)
                if FLAGS["frame_size"].present else None, short_side=FLAGS.short_side,
                jpeg_quality=FLAGS.jpeg_quality if FLAGS["jpeg_quality"].present
                else rawframes.EXTRACTOR_JPEG_QUALITY)
    except ValueError as error:
        raise FlagError(f"--frames_dir: {error}") from None


def import_note(options) -> str:
    """What importing does to the frames, said before it starts."""
    if options.copies_rgb:
        return "importing frame folders: JPEG bytes copied unchanged"
    size = f"{options.size[0]}x{options.size[1]}" if options.size \
        else f"short side {options.short_side}"
    return (f"importing frame folders: RGB decoded, resized to {size} and re-encoded at JPEG "
            f"quality {options.jpeg_quality} (--frame_size/--short_side given)")


def run(entries, label_map, options, pipeline_args):
    """Runs the chosen driver and returns the manifest."""
    if FLAGS.runner == "local":
        from tsn_tf.input.ingestion import ingest_local
        return ingest_local.ingest_local(
            entries, label_map, FLAGS.output, options, num_shards=FLAGS.num_shards,
            videos_per_shard=None if FLAGS.num_shards else FLAGS.videos_per_shard,
            workers=FLAGS.workers, retry_failures=FLAGS.retry_failures)
    from tsn_tf.input.ingestion import ingest_beam
    return ingest_beam.ingest_beam(
        entries, label_map, FLAGS.output, options, num_shards=FLAGS.num_shards,
        videos_per_shard=None if FLAGS.num_shards else FLAGS.videos_per_shard,
        runner=FLAGS.runner, pipeline_args=pipeline_args, retry_failures=FLAGS.retry_failures)


def report(manifest: dict) -> int:
    """Prints a summary to stderr; the exit status for the failure count."""
    failures = manifest["failures"]
    shard_counts = ", ".join(f"{split}: {len(summary['shards'])} shards"
                             for split, summary in manifest["splits"].items())
    print(f"ingested {manifest['videos_ingested']} of {manifest['videos_listed']} videos into "
          f"{FLAGS.output} ({shard_counts}); {len(failures)} failed, see manifest.json",
          file=sys.stderr)
    for failure in failures[:10]:
        print(f"  failed: {failure['path']}: {failure['reason']}", file=sys.stderr)
    changed = manifest["aspect_ratio_changed"]
    if changed["videos"]:
        print(f"note: {changed['videos']} of {manifest['videos_ingested']} videos changed aspect "
              f"ratio to fit --frame_size={FLAGS.frame_size}: width/height x"
              f"{changed['min_factor']:.2f} to x{changed['max_factor']:.2f} of the source's "
              f"(TSN's 340x256 does this); --short_side keeps the aspect ratio.", file=sys.stderr)
    if len(failures) > FLAGS.max_failures:
        print(f"error: {len(failures)} videos failed, more than --max_failures="
              f"{FLAGS.max_failures}", file=sys.stderr)
        return 1
    return 0


def main(argv):
    pipeline_args = argv[1:]
    try:
        if pipeline_args and FLAGS.runner == "local":
            raise FlagError(f"unexpected arguments {pipeline_args}: pipeline options after "
                            "`--` need a Beam --runner")
        check_paths()
        options = import_options() if FLAGS.frames_dir else ingest_options()
        video_list = lists.load_list(FLAGS.list_format, FLAGS.list_files, source_dir(),
                                     FLAGS.class_index, FLAGS.split_number)
        video_list = lists.select_split(video_list, FLAGS.split)
        if not video_list.entries:
            raise FlagError(f"no videos to ingest from --list_files={FLAGS.list_files} "
                            f"with --split={FLAGS.split}")
    except ValueError as error:  # FlagError, ListFormatError and bad list contents
        print(f"error: {error}", file=sys.stderr)
        return 2
    if FLAGS.frames_dir:
        print(import_note(options), file=sys.stderr)
    manifest = run(video_list.entries, video_list.label_map, options, pipeline_args)
    status = report(manifest)
    if storage.needs_hard_exit(FLAGS.output, source_dir(), *FLAGS.list_files):
        # tensorflow-io's s3 filesystem aborts the interpreter at exit (tensorflow/io#2039).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    return status


def run_main():
    """Console-script entry point (`tsn-ingest`)."""
    cli.run(main)


if __name__ == "__main__":
    run_main()
