"""Real tf.distribute strategies: Mirrored on two logical CPUs, MultiWorker on two processes."""
import json
import os
import pathlib
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

SCRIPTS = pathlib.Path(__file__).parent / "scripts"


def test_mirrored_two_replicas_match_one_device():
    out = subprocess.run([sys.executable, str(SCRIPTS / "mirrored_vs_one_device.py")],
                         check=True, capture_output=True, text=True, timeout=300)
    result = json.loads(out.stdout)
    assert result["replicas"] == 2
    np.testing.assert_allclose(result["losses"][0], result["losses"][1], rtol=1e-5)
    assert result["max_weight_difference"] < 1e-4
    first, second = result["bn_means"]
    np.testing.assert_allclose(first, second, rtol=1e-6)
    # Without synchronization the replicas' statistics drift apart: the check can fail.
    unsync_first, unsync_second = result["unsynchronized_bn_means"]
    assert np.abs(np.subtract(unsync_first, unsync_second)).max() > 1e-3
    assert result["unsynchronized_max_weight_difference"] > 1e-3


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _train_command(shards, model_dir, *extra):
    return [sys.executable, "-m", "tsn_tf.trainers.train", f"--train_shards={shards}",
            f"--model_dir={model_dir}", "--backbone=tiny", "--input_size=32", "--num_segments=2",
            "--batch_size=4", "--learning_rate=0.01", "--noprogress", *extra]


@pytest.mark.slow
def test_multi_worker_two_processes_end_with_identical_weights(tiny_shards, tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    processes = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster,
                                                     "task": {"type": "worker", "index": index}}))
        processes.append(subprocess.Popen(
            _train_command(tiny_shards, tmp_path, "--strategy=multi_worker", "--train_steps=4",
                           "--save_every=4"), env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=300) for p in processes]
    for process, (_, err) in zip(processes, outputs):
        assert process.returncode == 0, err[-3000:]
    chief = tf.train.load_checkpoint(str(tmp_path / "ckpt" / "ckpt-4"))
    worker = tf.train.load_checkpoint(str(tmp_path / "workers" / "worker_1" / "ckpt" / "ckpt-4"))
    names = sorted(chief.get_variable_to_shape_map())
    assert names == sorted(worker.get_variable_to_shape_map())
    assert len(names) > 20  # model weights (some stored under optimizer/) and momentum slots
    for name in names:
        np.testing.assert_array_equal(chief.get_tensor(name), worker.get_tensor(name), err_msg=name)
    assert chief.get_tensor("optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE") == 4
