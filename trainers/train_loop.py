"""One custom training loop for every strategy (`strategy.run` in a `tf.function`).

Keras 3 `model.fit` fails under MultiWorkerMirroredStrategy (DESIGN.md §2),
so training is a plain loop: each step reads `accumulation` micro-batches per
replica, sums their gradients, all-reduces them once, clips the global norm,
adds weight decay and lr multipliers (`tsn_tf.optim_policy`) and applies SGD.
"""
import dataclasses
import os
import time

import keras
import tensorflow as tf

from tsn_tf.optim_policy import apply_policy, optim_policy
from tsn_tf.schedules import TSNSchedule
from tsn_tf.trainers.model_dir import CHECKPOINTS


@dataclasses.dataclass
class TrainState:
    """The model and everything a checkpoint restores with it."""
    model: keras.Model
    optimizer: keras.optimizers.Optimizer
    checkpoint: tf.train.Checkpoint
    manager: tf.train.CheckpointManager

    @property
    def step(self):
        return int(self.optimizer.iterations.numpy())


def make_state(strategy, build_model, *, schedule: TSNSchedule, momentum, model_dir, max_to_keep=3):
    """Builds model and SGD under `strategy` and restores the latest checkpoint if any."""
    with strategy.scope():
        model = build_model()
        optimizer = keras.optimizers.SGD(schedule, momentum=momentum)
        optimizer.build(model.trainable_variables)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
    manager = tf.train.CheckpointManager(checkpoint, os.path.join(model_dir, CHECKPOINTS),
                                         max_to_keep=max_to_keep)
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
    return TrainState(model, optimizer, checkpoint, manager)


def make_train_step(strategy, state, *, modality, clip_norm, weight_decay, effective_batch,
                    jit_compile=False, prepare=None):
    """A `tf.function` taking one distributed batch, returning loss, accuracy, grad norm.

    Each replica's batch is (clips (A, b, K, H, W, C), labels (A, b)) with A the
    accumulation steps; `effective_batch` = A · b · replicas clips per update.
    With `prepare`, clips are any structure of (A, b, ...) tensors and each
    micro-batch goes through `prepare` on the replica's device before the
    model (e.g. `pipeline.finish_deferred`).
    """
    model, optimizer = state.model, state.optimizer
    variables = model.trainable_variables
    rules = optim_policy(model, modality)
    replicas = strategy.num_replicas_in_sync

    def micro_step(inputs, labels):
        clips = prepare(inputs) if prepare else inputs
        with tf.GradientTape() as tape:
            logits = model(clips, training=True)
            losses = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
            loss = tf.reduce_sum(tf.cast(losses, tf.float32)) / effective_batch
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32),
                                                 tf.cast(labels, tf.int32)), tf.float32))
        return tape.gradient(loss, variables), loss, correct

    def replica_step(clips, labels):
        # A Python loop, not tf.while_loop: under MirroredStrategy each BN
        # moving-average update is a sync point, which a while body can't hold.
        micro = lambda index: tf.nest.map_structure(lambda t: t[index], clips)
        grads, loss, correct = micro_step(micro(0), labels[0])
        for index in range(1, labels.shape[0]):
            more, more_loss, more_correct = micro_step(micro(index), labels[index])
            grads = [g + m for g, m in zip(grads, more)]
            loss, correct = loss + more_loss, correct + more_correct
        context = tf.distribute.get_replica_context()
        grads = context.all_reduce(tf.distribute.ReduceOp.SUM, grads)
        grads, grad_norm = tf.clip_by_global_norm(grads, clip_norm)
        grads = apply_policy(grads, variables, rules, weight_decay)
        # Keras sums gradients over replicas again inside apply_gradients.
        optimizer.apply_gradients(zip([g / replicas for g in grads], variables))
        return loss, correct, grad_norm

    @tf.function(jit_compile=jit_compile)
    def train_step(batch):
        loss, correct, grad_norm = strategy.run(replica_step, args=batch)
        total = lambda value: strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
        return {"loss": total(loss), "accuracy": total(correct) / effective_batch,
                "grad_norm": strategy.reduce(tf.distribute.ReduceOp.MEAN, grad_norm, axis=None)}

    return train_step


def distributed_dataset(strategy, make_replica_dataset, accumulation):
    """Per-replica datasets batched again into `accumulation` micro-batches.

    `make_replica_dataset(pipeline_id, num_pipelines)` returns the replica's
    endless `(clips, labels)` dataset with the per-replica micro-batch size.
    """
    def dataset_fn(context):
        dataset = make_replica_dataset(context.input_pipeline_id, context.num_input_pipelines)
        return dataset.batch(accumulation, drop_remainder=True).prefetch(1)
    return strategy.distribute_datasets_from_function(dataset_fn)


class Throughput:
    """Clips/s and seconds spent waiting for input since the last `read()`."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.start, self.clips, self.waiting = time.perf_counter(), 0, 0.0

    def timed_next(self, iterator):
        """next(iterator), adding the time it blocked to the input wait."""
        start = time.perf_counter()
        batch = next(iterator)
        self.waiting += time.perf_counter() - start
        return batch

    def read(self):
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        values = {"clips_per_second": self.clips / elapsed, "input_wait_fraction": self.waiting / elapsed}
        self.reset()
        return values
