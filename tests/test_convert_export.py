"""End to end: an mmaction2-style checkpoint -> tsn-convert -> tsn-export -> SavedModel
scores on a real clip, against PyTorch on the same preprocessed frames."""
import numpy as np
import pytest
import tensorflow as tf
import torch

import torch_reference as ref
from conftest import DATA_DIR
from export_helpers import call_in_fresh_process, run_module
from tsn_tf.ops import serving
from tsn_tf.input.ingestion import encode

MMACTION2_MEAN = np.array([123.675, 116.28, 103.53], np.float32)  # mmaction2 TSN configs
MMACTION2_STD = np.array([58.395, 57.12, 57.375], np.float32)
CLASSES = [f"class {i}" for i in range(6)]
SIZE, SEGMENTS = 64, 5


@pytest.mark.slow
def test_converted_mmaction2_model_serves_pytorch_scores_on_a_real_clip(tmp_path):
    record = encode.ingest_video(str(DATA_DIR / "part_0.mp4"), media_id="part_0",
                                 label_indices=[0], label_strings=[CLASSES[0]],
                                 options=encode.IngestOptions(modalities=("rgb",)))
    jpegs = np.array(record.rgb_jpegs, dtype=object)
    # The serving graph's own eval views (centre crop, K segments), kept on 0..255.
    raw = serving.ViewSettings("rgb", SIZE, mean=(0.0,), std=(1.0,), num_segments=SEGMENTS)
    offsets = serving.test_offsets(len(jpegs), raw)
    frames = serving.clips_from_jpegs([tf.constant(jpegs)], offsets, raw).numpy()[0]
    torch_input = ref.nchw((frames - MMACTION2_MEAN) / MMACTION2_STD)  # (K, 3, S, S)

    torch.manual_seed(3)  # the conv / linear initial weights
    resnet = ref.randomize(ref.ResNet(num_classes=len(CLASSES)), torch_input, seed=3)
    checkpoint = tmp_path / "tsn_r50_ucf101_rgb.pth"
    torch.save({"meta": {"epoch": 75}, "state_dict": ref.mmaction2_state(resnet)}, checkpoint)
    (tmp_path / "classes.txt").write_text("".join(f"{name}\n" for name in CLASSES))
    model_dir, export_base = tmp_path / "run", tmp_path / "serving"
    converted = run_module("tsn_tf.convert.convert_main", "--from=mmaction2",
                           f"--checkpoint={checkpoint}", f"--model_dir={model_dir}",
                           f"--class_names={tmp_path / 'classes.txt'}", f"--input_size={SIZE}")
    assert converted.returncode == 0, converted.stderr[-3000:]
    assert "backbone resnet50_pt, modality rgb" in converted.stdout
    exported = run_module("tsn_tf.export.export_main", f"--model_dir={model_dir}",
                          f"--export_base={export_base}", "--model_name=tsn",
                          f"--num_segments={SEGMENTS}", "--nowarmup")
    assert exported.returncode == 0, exported.stderr[-3000:]
    out = call_in_fresh_process(str(export_base / "tsn" / "1"),
                                {"serving_default": {"frames": jpegs}}, tmp_path)

    with torch.no_grad():  # PyTorch in float32, as a user would run it
        expected = resnet(torch_input).numpy().mean(axis=0)  # mmaction2: average consensus
    scores = out["serving_default/scores"]
    print("SavedModel vs PyTorch scores, largest difference", np.max(np.abs(scores - expected)))
    assert np.max(np.abs(expected)) > 0.1
    np.testing.assert_allclose(scores, expected, atol=1e-4)
