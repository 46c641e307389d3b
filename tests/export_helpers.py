"""Set-up shared by the export and predict tests: run folders, real clips, fresh processes.

Run folders follow the tsn-train contract (run_config.json, label_map.txt,
ckpt/ written by tf.train.CheckpointManager). Their classifier is drawn with
std 1 instead of the trained 0.001 so that class scores are of order 1 and a
1e-4 tolerance on them can detect a train/serve difference.
"""
import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import tensorflow as tf

from conftest import write_records
from tsn_tf import backbones
from tsn_tf.input.ingestion import encode
from tsn_tf.trainers import model_dir as model_dir_lib

NUM_CLASSES = 6
LABELS = [f"action {i} (class_{i})" for i in range(NUM_CLASSES)]  # spaces: whole-line labels
REPO = pathlib.Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def make_run_dir(folder, modality, seed=0, backbone="tiny", kernel_std=0.5):
    """A tiny-backbone run folder (K=2, 32 px) with a std-1 classifier; returns its path.

    Backbone kernels are drawn with `kernel_std` (audio_small: 0.1).
    """
    folder = pathlib.Path(folder)
    spec = backbones.spec(backbone)
    config = model_dir_lib.RunConfig(
            num_classes=NUM_CLASSES, backbone=backbone, modality=modality, num_segments=2,
            input_size=32, rgb_mean=spec.rgb_mean, rgb_std=spec.rgb_std,
            flow_mean=spec.flow_mean, flow_std=spec.flow_std)
    config.save(str(folder))
    model_dir_lib.write_label_map(str(folder), LABELS)
    save_drawn_weights(config.build_model(), folder, seed, kernel_std, checkpoint_number=7)
    return str(folder)


def save_drawn_weights(model, folder, seed=0, kernel_std=0.5, checkpoint_number=7):
    """Draws `model`'s weights (classifier std 1: scores of order 1) and saves them as the
    latest checkpoint of the run folder `folder`."""
    keras_seed = np.random.default_rng(seed)
    for variable in model.trainable_variables:
        variable.assign(keras_seed.normal(0, kernel_std if "kernel" in variable.path else 0.1,
                                          variable.shape).astype("float32"))
    classifier = model.get_layer("classifier").layer
    classifier.kernel.assign(keras_seed.normal(0, 1.0, classifier.kernel.shape).astype("float32"))
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=model),
                                         str(pathlib.Path(folder) / model_dir_lib.CHECKPOINTS),
                                         max_to_keep=1)
    manager.save(checkpoint_number=checkpoint_number)


def ingest_clip(video_path, folder, flow_algorithm="farneback"):
    """One real clip -> a shard via `ingest_video`; returns (shard glob, VideoRecord)."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    options = encode.IngestOptions(modalities=("rgb", "flow"), flow_algorithm=flow_algorithm)
    record = encode.ingest_video(video_path, media_id=pathlib.Path(video_path).stem,
                                 label_indices=[1], label_strings=[LABELS[1]], options=options)
    return write_records(folder / "clip-00000-of-00001.tfrecord", [record]), record


def jpeg_arrays(record, modality):
    """serving_default inputs of a record: {name: object (N,) bytes}."""
    if modality == "rgb":
        return {"frames": np.array(record.rgb_jpegs, dtype=object)}
    return {"flow_x": np.array(record.flow_x_jpegs, dtype=object),
            "flow_y": np.array(record.flow_y_jpegs, dtype=object)}


def run_command(*command, timeout=300):
    """Runs a command in a fresh process from the repo root; returns CompletedProcess (text)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([str(c) for c in command], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=str(REPO))


def succeeded(result):
    """`result` (a CompletedProcess) after asserting it exited 0; else its stderr's tail."""
    assert result.returncode == 0, result.stderr[-3000:]
    return result


SAVED_MODEL_CLI = str(pathlib.Path(sys.executable).parent / "saved_model_cli")


def saved_model_cli_scores(version_dir, input_name, array, folder):
    """`saved_model_cli run` of serving_default on `array`: the printed `scores`.

    It loads through the TF1 loader, as TF Serving does, so the Keras variables
    must be found there (keras-team/keras#20095).
    """
    path = pathlib.Path(folder) / f"{input_name}.npy"
    np.save(path, array)
    run = run_command(SAVED_MODEL_CLI, "run", "--dir", version_dir, "--tag_set", "serve",
                      "--signature_def", "serving_default", "--inputs", f"{input_name}={path}")
    assert run.returncode == 0, run.stderr[-3000:]
    printed = re.search(r"Result for output key scores:\n\[([^\]]*)\]", run.stdout)
    assert printed, run.stdout
    return np.array(printed.group(1).split(), np.float32)


# The end of a fresh-process script that defines `bad` (name -> a request that
# must fail) and `good_call()` (a good request): it prints, per bad request, the
# error type, its message, and whether the next good request gave the same scores.
REPORT_MALFORMED = r"""
first = good_call()["scores"].numpy()
report = {}
for name, call in bad.items():
    try:
        call()
        report[name] = ["no error", ""]
    except Exception as error:
        report[name] = [type(error).__name__, str(error)]
    report[name].append(bool(np.array_equal(good_call()["scores"].numpy(), first)))
print(json.dumps(report))
"""


def assert_invalid_requests(result, expected_messages):
    """Every bad request of a REPORT_MALFORMED run failed with InvalidArgument naming
    `expected_messages[name]`, and the good request after it still succeeded."""
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(report) == set(expected_messages)
    for name, (error, message, next_ok) in report.items():
        assert error == "InvalidArgumentError", (name, error, message)
        assert expected_messages[name] in message, (name, message)
        assert next_ok, name


def run_python(code, *args, timeout=300):
    """Runs Python `code` with `args` in a fresh process."""
    return run_command(PYTHON, "-c", code, *args, timeout=timeout)


def run_module(module, *args, timeout=300):
    """Runs `python -m module args...` in a fresh process."""
    return run_command(PYTHON, "-m", module, *args, timeout=timeout)


# A fresh process that knows nothing of tsn_tf: load the SavedModel, call
# signatures on inputs from an .npz, write outputs to another .npz.
CALL_SIGNATURES = r"""
import sys
import numpy as np
import tensorflow as tf

model_path, requests_path, output_path = sys.argv[1:4]
loaded = tf.saved_model.load(model_path)
requests = np.load(requests_path, allow_pickle=True)
outputs = {}
for signature in sorted({key.split("/")[0] for key in requests.files}):
    inputs = {k.split("/")[1]: requests[k] for k in requests.files
              if k.startswith(signature + "/")}
    result = loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
    for out_name, value in result.items():
        outputs[signature + "/" + out_name] = value.numpy()
np.savez(output_path, **outputs)
"""


def call_in_fresh_process(model_path, requests, folder):
    """{signature: {input: array}} -> {signature/output: array}, computed in a fresh process."""
    folder = pathlib.Path(folder)
    flat = {}
    for signature, inputs in requests.items():
        flat.update({f"{signature}/{name}": value for name, value in inputs.items()})
    np.savez(folder / "requests.npz", **flat)
    result = run_python(CALL_SIGNATURES, model_path, folder / "requests.npz",
                        folder / "outputs.npz")
    assert result.returncode == 0, result.stderr[-3000:]
    with np.load(folder / "outputs.npz", allow_pickle=True) as data:
        return {key: data[key] for key in data.files}


def read_json(path):
    with open(path) as f:
        return json.load(f)


# --- tsn-predict output --------------------------------------------------------

PREDICT_LINE = re.compile(r"^(\d+)\. (.+)\t([0-9.]+)$")


def printed_ranking(stdout):
    """[(label, probability)] of the ranked lines tsn-predict prints."""
    rows = [row for row in map(PREDICT_LINE.match, stdout.splitlines()) if row]
    assert [int(row.group(1)) for row in rows] == list(range(1, len(rows) + 1)), stdout
    return [(row.group(2), float(row.group(3))) for row in rows]


def signature_outputs(version_dir, inputs, signature="serving_default"):
    """{output: array} of one SavedModel signature called on `inputs` in this process."""
    loaded = tf.saved_model.load(str(version_dir))
    outputs = loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
    return {k: v.numpy() for k, v in outputs.items()}


def check_top5(printed, expected_probabilities):
    """The printed ranking is the top 5 of `expected_probabilities` (over LABELS)."""
    assert len(printed) == 5
    probabilities = [p for _, p in printed]
    assert probabilities == sorted(probabilities, reverse=True)
    assert 0 < sum(probabilities) <= 1 + 5 * 5e-5  # five values printed to 4 decimals
    order = np.argsort(-expected_probabilities)[:5]
    assert [label for label, _ in printed] == [LABELS[i] for i in order]
    np.testing.assert_allclose(probabilities, expected_probabilities[order], atol=6e-5)
