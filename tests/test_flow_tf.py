"""Ingestion with the TF TV-L1 (--flow=tvl1_tsn | tvl1_denseflow | tvl1_opencv) and the
graph ops it shares with serving (tsn_tf.ops.video_flow): OpenCV's grey and dense_flow's
quantization exactly, batched pairs equal to pairs alone, the variant recorded (shards
made so train, evaluate and serve alike: tests/test_serving_flow.py)."""
import json
import pathlib

import cv2
import numpy as np
import pytest
import tensorflow as tf

from tsn_tf.input.contract.preprocessing import Preprocessing
from tsn_tf.input.ingestion import encode, flow, flow_pool, flow_tf, video
from test_tvl1 import ipp
from tsn_tf.ops import tvl1, video_flow

DATA_DIR = pathlib.Path(__file__).parent / "data"
SIZE = (40, 30)  # width, height


def _jpegs(count, size=SIZE, clip="part_0.mp4", quality=90):
    frames = video.read_video(DATA_DIR / clip, size=size, max_frames=count).frames  # RGB
    return [flow_pool.jpeg(np.ascontiguousarray(frame[..., ::-1]), quality) for frame in frames]


def test_grey_is_opencvs_bgr2gray_for_every_red_green_pair():
    values = np.arange(256)  # every R, G; B in steps of 5 (all 2^24 agree: slower to check)
    rgb = np.stack(np.meshgrid(values, values, values[::5], indexing="ij"), -1).astype(np.uint8)
    rgb = rgb.reshape(256 * 256, -1, 3)
    expected = cv2.cvtColor(np.ascontiguousarray(rgb[..., ::-1]), cv2.COLOR_BGR2GRAY)
    np.testing.assert_array_equal(video_flow.grey(rgb).numpy(), expected)


def test_quantize_is_dense_flows_mapping():
    bound = 20.0
    values = np.concatenate([[-bound - 1, -bound, bound, bound + 1],
                             np.random.default_rng(0).uniform(-25, 25, 20000)])
    field = np.stack([values, -values], -1).astype(np.float32)[None]       # (1, N, 2)
    expected = np.where(field > bound, 255, np.where(field < -bound, 0, np.rint(
            255 * (field.astype(np.float64) + bound) / (2 * bound))))
    ours = video_flow.quantize(field, bound).numpy()
    # float32 against double: only values within rounding of a .5 tie may differ
    assert np.mean(ours == expected) > 0.9999 and np.abs(ours - expected).max() <= 1
    np.testing.assert_array_equal(ours[0, :4, 0], [0, 0, 255, 255])
    assert ours[0, 0, 0] == 0 and video_flow.quantize(np.zeros([1, 1, 2]), bound).numpy()[
        0, 0, 0] == 128
    x, y = flow.quantize_flow(field, bound)  # ingestion's cv2 mapping for OpenCV flows
    assert np.mean(ours == np.stack([x, y], -1)) > 0.9999


def test_batched_pairs_equal_each_pair_alone_with_a_padded_last_batch():
    jpegs = _jpegs(10)                     # 9 pairs: a batch of 8, then 1 padded with copies
    shape = dict(bound=20.0, height=SIZE[1], width=SIZE[0])
    batched = list(flow_tf.video_flows(jpegs, "tvl1_tsn", batch_size=8, **shape))
    assert len(batched) == 9 and batched[0].dtype == np.uint8
    assert flow_tf.default_batch() == 1  # this CPU: one pair a batch
    for i, computed in enumerate(batched):
        alone = flow_tf.pair_flows([jpegs[i]], [jpegs[i + 1]], "tvl1_tsn", **shape)[0]
        assert np.mean(computed == alone) > 0.999, i
    assert np.mean(batched[7] != batched[8]) > 0.01  # the pairs differ: no pair reused


def test_the_record_names_the_variant_and_its_parameters():
    options = encode.IngestOptions(modalities=("rgb", "flow"), flow_algorithm="tvl1_tsn",
                                   size=SIZE, max_frames=4)
    record = encode.ingest_video(DATA_DIR / "part_0.mp4", media_id="v", label_indices=[0],
                                 label_strings=["a"], options=options)
    assert len(record.rgb_jpegs) == 4 and len(record.flow_x_jpegs) == 3
    assert record.flow_algorithm == "tvl1_tsn"
    parameters = json.loads(record.flow_parameters)
    assert parameters["variant"] == "tsn" and parameters["engine"] == "tensorflow"
    assert (parameters["pyramid"], parameters["flow_upscale"]) == ("halve", 2.0)
    assert (parameters["iterations"], parameters["tau"], parameters["lambda_"]) == (300, 0.25,
                                                                                      0.15)
    again = encode.options_for(Preprocessing.from_record(record), ["flow"])
    assert again.flow_algorithm == "tvl1_tsn" and again.size == SIZE
    # the flow stored is the ops' flow of the stored RGB JPEGs
    expected = flow_tf.pair_flows(record.rgb_jpegs[:-1], record.rgb_jpegs[1:], "tvl1_tsn",
                                  bound=20.0, height=SIZE[1], width=SIZE[0])
    stored_x = [cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_GRAYSCALE)
                for j in record.flow_x_jpegs]
    jpeg_x = [cv2.imdecode(np.frombuffer(flow_pool.jpeg(np.ascontiguousarray(f[..., 0]), 90),
                                         np.uint8), cv2.IMREAD_GRAYSCALE) for f in expected]
    np.testing.assert_array_equal(np.stack(stored_x), np.stack(jpeg_x))


def test_a_tf_algorithm_is_accepted_where_flow_algorithms_are_named():
    assert set(flow_tf.ALGORITHMS) == set(flow.TF_ALGORITHMS)
    assert {flow_tf.variant(name) for name in flow.TF_ALGORITHMS} == set(tvl1.VARIANTS)
    with pytest.raises(ValueError, match="'tvl1' is not a TF flow algorithm"):
        flow_tf.variant("tvl1")
    assert encode.IngestOptions(flow_algorithm="tvl1_denseflow").flow_algorithm \
        == "tvl1_denseflow"


@pytest.mark.slow  # compiling the opencv variant's nested loops with XLA: ~30-70 s
def test_tvl1_opencv_stores_the_flow_cv2_tvl1_computes_on_the_same_grey_frames():
    size = (68, 51)
    jpegs = _jpegs(5, size=size, clip="demo.mp4")
    ours = list(flow_tf.video_flows(jpegs, "tvl1_opencv", bound=20.0, height=size[1],
                                    width=size[0]))
    greys = [video_flow.grey(tf.io.decode_jpeg(j, channels=3)).numpy() for j in jpegs]
    with ipp(False):
        engine = cv2.optflow.DualTVL1OpticalFlow_create()
        theirs = [np.stack(flow.quantize_flow(engine.calc(a, b, None), 20.0), -1)
                  for a, b in zip(greys[:-1], greys[1:])]
    within_one = np.mean(np.abs(np.stack(ours).astype(int) - np.stack(theirs)) <= 1)
    assert within_one >= 0.995, within_one
