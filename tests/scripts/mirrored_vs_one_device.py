"""Three train steps on one device and on MirroredStrategy over two logical CPUs.

Prints JSON: the largest weight difference between the two (relative to each
tensor's magnitude) and the first BN's moving statistics per replica. Run in its own process: the CPU split must happen
before TensorFlow initializes its devices.
"""
import json
import sys
import tempfile

import numpy as np
import tensorflow as tf

from tsn_tf.model import build_tsn
from tsn_tf.partial_bn import batch_norm_layers
from tsn_tf.schedules import TSNSchedule
from tsn_tf.trainers import strategies, train_loop

BATCH, SEGMENTS, SIZE, CLASSES = 4, 2, 32, 3


def train(strategy, initial_weights, clips, labels, synchronized=True):
    replicas = strategy.num_replicas_in_sync
    build = lambda: build_tsn(CLASSES, backbone="tiny", num_segments=SEGMENTS, input_size=SIZE,
                              dropout=0.0, num_replicas=replicas if synchronized else 1)
    state = train_loop.make_state(strategy, build, schedule=TSNSchedule(0.05, "constant"),
                                  momentum=0.9, model_dir=tempfile.mkdtemp())
    state.model.set_weights(initial_weights)
    step = train_loop.make_train_step(strategy, state, modality="rgb", clip_norm=40.0,
                                      weight_decay=5e-4, effective_batch=BATCH)
    per_replica = BATCH // replicas

    def shard(context):
        part = slice(context.replica_id_in_sync_group * per_replica,
                     (context.replica_id_in_sync_group + 1) * per_replica)
        return tf.constant(clips[None, part]), tf.constant(labels[None, part])

    batch = strategy.experimental_distribute_values_from_function(shard)
    losses = [float(step(batch)["loss"]) for _ in range(3)]
    first_bn = batch_norm_layers(state.model)[0]
    per_replica_means = [v.numpy().tolist() for v in
                         strategy.experimental_local_results(first_bn.moving_mean.value)]
    return [w.numpy() for w in state.model.weights], losses, per_replica_means


def main():
    strategies.split_cpu(2)
    rng = np.random.default_rng(0)
    clips = rng.normal(0, 50, (BATCH, SEGMENTS, SIZE, SIZE, 3)).astype("float32")
    clips += np.arange(BATCH, dtype="float32")[:, None, None, None, None] * 20  # replicas differ
    labels = np.array([0, 1, 2, 1], "int32")
    initial = build_tsn(CLASSES, backbone="tiny", num_segments=SEGMENTS, input_size=SIZE,
                        dropout=0.0).get_weights()
    one_weights, one_losses, _ = train(tf.distribute.OneDeviceStrategy("/cpu:0"), initial, clips, labels)
    mirrored = strategies.make_strategy("mirrored")
    two_weights, two_losses, bn_means = train(mirrored, initial, clips, labels)
    unsync_weights, _, unsync_means = train(mirrored, initial, clips, labels, synchronized=False)
    # Largest difference relative to each tensor's scale (moving variances reach the hundreds).
    difference = lambda ws: max(float(np.abs(a - b).max() / max(1.0, np.abs(a).max()))
                                for a, b in zip(one_weights, ws))
    json.dump({"replicas": mirrored.num_replicas_in_sync, "max_weight_difference": difference(two_weights),
               "unsynchronized_max_weight_difference": difference(unsync_weights),
               "losses": [one_losses, two_losses], "bn_means": bn_means,
               "unsynchronized_bn_means": unsync_means}, sys.stdout)


if __name__ == "__main__":
    main()
