"""tsn-train: train one TSN stream from TFRecord shards.

    tsn-train --flagfile=configs/ucf101_rgb.cfg --train_shards='data/ucf101/train-*' \\
        --model_dir=runs/ucf101_rgb

Resumes from the latest checkpoint in --model_dir; SIGTERM saves and exits.
"""
import dataclasses
import functools
import json
import os
import signal

from tsn_tf.trainers import cli  # first: quiets TensorFlow before it loads
from absl import app, flags, logging
import keras
import tensorflow as tf

from tsn_tf import backbones
from tsn_tf.backbones.weights import NORMALIZATION_FIELDS, read_normalization
from tsn_tf.consensus import MODES
from tsn_tf.modalities import MODALITIES
from tsn_tf.schedules import SCHEDULES, TSNSchedule
from tsn_tf.input.pipeline import frame_check, modalities
from tsn_tf.input.contract import layout, schema
from tsn_tf.input import pipeline
from tsn_tf.input.contract.preprocessing import Preprocessing
from tsn_tf.ops import deferred
from tsn_tf.trainers import flags_common, summaries, train_loop
from tsn_tf.trainers.model_dir import (LABEL_MAP, RunConfig, read_class_names, restore_model,
                                       write_label_map)

# --- data
flags.DEFINE_string("train_shards", None, "Glob of training TFRecord shards (any TF filesystem).")
flags.DEFINE_string("label_map", None, "Class names, one per line (default: label_map.txt "
                    "beside the shards, written by tsn-ingest).")
flags.DEFINE_integer("shuffle_buffer", 1024, "Videos in the shuffle buffer (index entries, "
                     "a few kB each).", lower_bound=1)
flags.DEFINE_bool("cache", False, "Cache the parsed shard index in memory after the first epoch.")
flags.DEFINE_bool("deterministic", False, "Same --seed, same run: parallel input stages keep "
                  "their order and TF ops run deterministically (input clips/s 0.99x of the "
                  "default on a 2-core CPU; an op without a deterministic kernel on your device "
                  "raises an error naming it; resumed runs continue on their own data order).")
flags.DEFINE_enum("resize_in", "auto", ["auto", "pipeline", "step"], "Where training crops are "
                  "resized, mirrored and normalized: 'pipeline' (tf.data, on the CPU) or 'step' "
                  "(the train step, on the accelerator: uint8 crops are batched, ~3x fewer "
                  "bytes; with --xla resized by two matrix products, as crop_and_resize has "
                  "no XLA kernel). auto: 'step' when GPUs or TPUs train, else 'pipeline'.")
# --- model
flags.DEFINE_enum("backbone", "bn_inception", backbones.names(), "Backbone network.")
flags.DEFINE_enum("modality", "rgb", sorted(MODALITIES), "Input modality of the stream.")
flags.DEFINE_enum("consensus", "avg", list(MODES), "Segmental consensus function.")
flags.DEFINE_integer("topk", 3, "k of the topk consensus.", lower_bound=1)
flags.DEFINE_integer("num_segments", 3, "K: segments per video.", lower_bound=1)
flags.DEFINE_integer("input_size", None, "Model input side in pixels (default: the backbone's).",
                     lower_bound=1)
flags.DEFINE_float("dropout", None, "Dropout before the classifier (default: 0.8 RGB, 0.7 flow).",
                   lower_bound=0.0, upper_bound=0.99)
flags.DEFINE_string("weights", None, "Backbone init: 'imagenet' (Keras applications, needs "
                    "internet) or a local weights file (a tsn-convert sidecar <file>.json beside "
                    "it sets the input normalization); non-RGB streams get cross-modality init.")
flags.DEFINE_string("cross_modality_from", None, "An RGB run's --model_dir whose trained "
                    "backbone initializes this (flow / RGB diff) stream by cross-modality init.")
flags.DEFINE_bool("partial_bn", True, "Freeze every BatchNormalization but the first.")
# --- optimization
flags.DEFINE_integer("batch_size", 32, "Effective batch: clips per update over all replicas "
                     "and accumulation steps (the paper: 128).", lower_bound=1)
flags.DEFINE_integer("accumulation", 1, "Micro-batches summed per update (reach --batch_size "
                     "on small hardware); must divide --batch_size / replicas.", lower_bound=1)
flags.DEFINE_float("learning_rate", 0.001, "Base learning rate.", lower_bound=0.0)
flags.DEFINE_enum("lr_schedule", "multistep", list(SCHEDULES), "Learning-rate schedule.")
flags.DEFINE_list("lr_steps", [], "multistep: steps where the rate is multiplied by --lr_decay.")
flags.DEFINE_float("lr_decay", 0.1, "multistep decay factor.", lower_bound=0.0)
flags.DEFINE_integer("warmup_steps", 0, "Linear warmup steps.", lower_bound=0)
flags.DEFINE_integer("train_steps", 3500, "Total updates.", lower_bound=1)
flags.DEFINE_float("momentum", 0.9, "SGD momentum.", lower_bound=0.0)
flags.DEFINE_float("weight_decay", 5e-4, "L2 weight decay (not on biases and BN).", lower_bound=0.0)
flags.DEFINE_float("clip_norm", None, "Global gradient-norm clip (default: 40 RGB, 20 flow).",
                   lower_bound=0.0)
flags.DEFINE_enum("mixed_precision", "none", ["none", "mixed_bfloat16"],
                  "Keras mixed-precision policy (bfloat16 needs no loss scaling).")
flags.DEFINE_bool("xla", False, "Compile the train step with XLA.")
# --- bookkeeping
flags.DEFINE_integer("save_every", 500, "Checkpoint every N steps (and at the end).", lower_bound=1)
flags.DEFINE_integer("log_every", 10, "TensorBoard scalars every N steps.", lower_bound=1)
flags.DEFINE_list("profile_steps", [], "first,last: profile this step range into TensorBoard.")
flags.DEFINE_bool("progress", True, "Console progress bar.")

FLAGS = flags.FLAGS
cli.require_numbers("lr_steps", int)
cli.require_numbers("profile_steps", int)
CLIP_NORM = {"rgb": 40.0, "rgb_diff": 40.0, "flow": 20.0, "warped_flow": 20.0, "audio": 40.0}


def validate_flags():
    """Fails early with the flag's name and what would be right; returns the shard paths."""
    if not FLAGS.model_dir:
        raise app.UsageError("--model_dir is required.")
    if not FLAGS.train_shards:
        raise app.UsageError("--train_shards is required (a glob of tsn-ingest shards).")
    if FLAGS.modality == "audio" and FLAGS.resize_in == "step":
        raise app.UsageError("--resize_in=step is for the video streams; --modality is audio.")
    if FLAGS.profile_steps and len(FLAGS.profile_steps) != 2:
        raise app.UsageError(f"--profile_steps takes first,last; got {FLAGS.profile_steps}.")
    if FLAGS.cross_modality_from and FLAGS.modality == "rgb":
        raise app.UsageError("--cross_modality_from initializes a flow / rgb_diff stream; "
                             "--modality is rgb.")
    try:
        paths, _ = layout.list_shards(FLAGS.train_shards)
    except FileNotFoundError as error:
        raise app.UsageError(f"--train_shards: {error}") from error
    check_stream(paths[0], FLAGS.modality)
    return paths


def check_stream(path, modality):
    """Fails if shard `path` is not in the indexed layout or its first video lacks
    the frames `modality` reads."""
    try:
        index = layout.read_index(path)  # gfile only: multi_worker must start TF first
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    if not index:
        raise app.UsageError(f"Shard {path} holds no video.")
    context = index[0].context.feature
    if modality == "audio":  # a video without a track has no frames: the context flag
        needed = (schema.AUDIO_PRESENT,)
    else:
        needed = (schema.frame_offsets_key(modalities.get_stream(modality).group),)
    missing = [key for key in needed if key not in context]
    if missing:
        raise app.UsageError(f"--modality={modality} reads {missing}, which shard {path} does "
                             "not have: ingest with that modality or pick another --modality.")


def label_names():
    path = FLAGS.label_map or os.path.join(os.path.dirname(FLAGS.train_shards), LABEL_MAP)
    if not tf.io.gfile.exists(path):
        raise app.UsageError(f"Label map {path} not found: pass --label_map.")
    return read_class_names(path)


def run_config(num_classes):
    spec = backbones.spec(FLAGS.backbone)
    return RunConfig(
        num_classes=num_classes, backbone=FLAGS.backbone, modality=FLAGS.modality,
        num_segments=FLAGS.num_segments, consensus=FLAGS.consensus, topk=FLAGS.topk,
        input_size=FLAGS.input_size or spec.input_size, dropout=FLAGS.dropout,
        **weights_normalization(spec))


def weights_normalization(spec):
    """RunConfig's normalization: the --weights file's sidecar (tsn-convert), else the spec's."""
    values = dataclasses.asdict(spec)
    if FLAGS.weights and FLAGS.weights != "imagenet":
        sidecar = read_normalization(FLAGS.weights)
        if sidecar and sidecar["backbone"] != FLAGS.backbone:
            raise app.UsageError(f"--weights={FLAGS.weights} holds {sidecar['backbone']} "
                                 f"weights; --backbone is {FLAGS.backbone}.")
        values = sidecar or values
    return {name: values[name] for name in NORMALIZATION_FIELDS}


def main(argv):
    del argv
    shard_paths = validate_flags()
    keras.utils.set_random_seed(FLAGS.seed)
    if FLAGS.deterministic:
        tf.config.experimental.enable_op_determinism()
    if FLAGS.mixed_precision != "none":
        keras.mixed_precision.set_global_policy(FLAGS.mixed_precision)
    strategy = flags_common.strategy_from_flags()
    resolver = getattr(strategy, "cluster_resolver", None)
    chief = resolver is None or resolver.task_type in (None, "chief") or (
        resolver.task_type == "worker" and resolver.task_id == 0)
    # Non-chief workers take part in saving but write to their own folder.
    write_dir = FLAGS.model_dir if chief else os.path.join(
        FLAGS.model_dir, "workers", f"{resolver.task_type}_{resolver.task_id}")
    replicas = strategy.num_replicas_in_sync
    per_update = replicas * FLAGS.accumulation
    if FLAGS.batch_size % per_update:
        raise app.UsageError(f"--batch_size={FLAGS.batch_size} is not divisible by replicas "
                             f"({replicas}) x --accumulation ({FLAGS.accumulation}).")
    micro_batch = FLAGS.batch_size // per_update

    # --- data
    names = label_names()
    config = run_config(len(names))
    if chief:
        config.save(FLAGS.model_dir)
        write_label_map(FLAGS.model_dir, names)
        Preprocessing.from_shard(shard_paths[0]).save(FLAGS.model_dir)  # for tsn-predict
    mean, std = config.normalization()

    # --- model
    def build_model():
        source = restore_model(FLAGS.cross_modality_from) if FLAGS.cross_modality_from else None
        return config.build_model(replicas, weights=FLAGS.weights, cross_modality_from=source,
                                  partial_bn=FLAGS.partial_bn)

    schedule = TSNSchedule(FLAGS.learning_rate, FLAGS.lr_schedule,
                           boundaries=[int(s) for s in FLAGS.lr_steps], decay=FLAGS.lr_decay,
                           total_steps=FLAGS.train_steps, warmup_steps=FLAGS.warmup_steps)
    state = train_loop.make_state(strategy, build_model, schedule=schedule,
                                  momentum=FLAGS.momentum, model_dir=write_dir)
    if state.step:
        logging.info("Resumed from %s at step %d.", state.manager.latest_checkpoint, state.step)
    # A resumed run continues on a fresh, still deterministic, data order.
    data_seed = FLAGS.seed * 1_000_003 + state.step * 1009

    resize_in_step = FLAGS.resize_in == "step" or (
            FLAGS.resize_in == "auto" and config.modality != "audio"
            and any(tf.config.list_logical_devices(kind) for kind in ("GPU", "TPU")))
    prepare = None
    if resize_in_step:
        # crop_and_resize has no XLA kernel; TPU steps are always compiled
        method = "matmul" if FLAGS.xla or FLAGS.strategy == "tpu" else "crop_and_resize"
        prepare = functools.partial(deferred.finish_deferred, modality=config.modality,
                                    output_size=config.input_size, mean=mean, std=std,
                                    method=method)

    def replica_dataset(pipeline_id, num_pipelines):
        # Each input pipeline (worker) reads its own shards when there are enough.
        own = shard_paths[pipeline_id::num_pipelines] \
            if len(shard_paths) >= num_pipelines else shard_paths
        return pipeline.make_dataset(
            own, modality=config.modality, num_segments=config.num_segments,
            training=True, batch_size=micro_batch, mean=mean, std=std,
            output_size=config.input_size, num_classes=config.num_classes,
            shuffle_buffer=FLAGS.shuffle_buffer, cache=FLAGS.cache,
            seed=data_seed + pipeline_id, repeat=True, defer_resize=resize_in_step,
            deterministic=FLAGS.deterministic)

    batches = train_loop.distributed_dataset(strategy, replica_dataset, FLAGS.accumulation)

    train_step = train_loop.make_train_step(
        strategy, state, modality=config.modality,
        clip_norm=FLAGS.clip_norm or CLIP_NORM[config.modality],
        weight_decay=FLAGS.weight_decay, effective_batch=FLAGS.batch_size, jit_compile=FLAGS.xla,
        prepare=prepare)

    # --- loop
    stop = {"signal": None}
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.update(signal=signum))
    writer = summaries.writer(FLAGS.model_dir if chief else None, "train")
    profile = [int(s) for s in FLAGS.profile_steps]
    bar = keras.utils.Progbar(FLAGS.train_steps, stateful_metrics=["loss", "accuracy", "clips/s"],
                              verbose=1 if FLAGS.progress and chief else 0)
    meter = train_loop.Throughput()
    iterator, images_logged = iter(batches), False
    bar.update(state.step)
    while state.step < FLAGS.train_steps and stop["signal"] is None:
        step = state.step
        if profile and step == profile[0]:
            tf.profiler.experimental.start(os.path.join(FLAGS.model_dir, "train"))
        batch = meter.timed_next(iterator)
        if not images_logged:
            summaries.clip_images(writer, batch, strategy, config.modality, mean, std, step,
                                  prepare)
            images_logged = True
        metrics = train_step(batch)
        meter.clips += FLAGS.batch_size
        if profile and step == profile[1]:
            tf.profiler.experimental.stop()
        done = step + 1
        if done % FLAGS.log_every == 0 or done == FLAGS.train_steps:
            values = {k: float(v) for k, v in metrics.items()}
            values.update(meter.read())
            values["learning_rate"] = float(schedule(step))
            summaries.scalars(writer, values, done)
            bar.update(done, [("loss", values["loss"]), ("accuracy", values["accuracy"]),
                              ("clips/s", values["clips_per_second"])])
        if done % FLAGS.save_every == 0 or done == FLAGS.train_steps:
            state.manager.save(checkpoint_number=done)
    if stop["signal"] is not None:
        state.manager.save(checkpoint_number=state.step)
        logging.warning("Stopped by signal %d: saved step %d to %s.", stop["signal"], state.step,
                        state.manager.latest_checkpoint)
    if chief:
        print(json.dumps({"step": state.step, "checkpoint": state.manager.latest_checkpoint}))


def run():
    cli.run(main, explain=lambda error: frame_check.explain(error, FLAGS.train_shards))


if __name__ == "__main__":
    run()
