"""tsn-predict computes flow only for the pairs the test protocol samples (issue #22 point 2).

The pair sets below are worked out by hand from DESIGN.md §5's formulas; the
end-to-end tests compare sampled-pairs prediction with the every-pair path
(`ReadOptions(all_flow_pairs=True)`), byte for byte on the requests and
exactly on the scores.
"""
import io
import pathlib

import cv2
import numpy as np
import pytest
import tensorflow as tf
import tqdm

from export_helpers import make_run_dir, printed_ranking, run_module
from tsn_tf.export import client, predict, sampled_flow, saved_model
from tsn_tf.input.contract.preprocessing import Preprocessing
from tsn_tf.input.ingestion import encode, flow as flow_lib, video as video_lib
from tsn_tf.ops import serving

DATA_DIR = pathlib.Path(__file__).parent / "data"
DEMO = DATA_DIR / "demo.mp4"  # 280 frames at 28 fps, 340x256
SMALL = "short_side=32"       # 42x32 frames
FLOW = serving.ViewSettings(modality="flow", input_size=32, mean=(128.0,), std=(1.0,))


# --- which pairs -----------------------------------------------------------------

def test_trimmed_pairs_of_32_frames_k25_l5_by_hand():
    """N = 32 frames: 31 flow frames, tick = (31 - 5 + 1) / 25 = 1.08, offsets
    int(0.54 + 1.08 i); the snippets p..p+4 then cover every flow frame."""
    offsets = [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 23,
               24, 25, 26]
    assert list(serving.test_offsets(31, FLOW).numpy()) == offsets
    assert list(sampled_flow.trimmed_flow_frames(31, FLOW)) == list(range(31))


def test_trimmed_pairs_of_255_frames_are_125_of_254_by_hand():
    """254 flow frames: tick = (254 - 5 + 1) / 25 = 10, offsets 5 + 10 i, snippets
    5 + 10 i .. 9 + 10 i."""
    expected = [10 * i + 5 + step for i in range(25) for step in range(5)]
    assert list(sampled_flow.trimmed_flow_frames(254, FLOW)) == expected
    assert len(expected) == 125


def test_trimmed_pairs_of_130_frames_leave_out_both_ends_by_hand():
    """129 flow frames: tick = (129 - 5 + 1) / 25 = 5, offsets int(2.5 + 5 i) = 2 .. 122,
    snippets 2 .. 126: pairs 0, 1, 127 and 128 are not read. (Counting the 130 video
    frames instead gives tick 5.04 and a last snippet 123 .. 127.)"""
    assert list(sampled_flow.trimmed_flow_frames(129, FLOW)) == list(range(2, 127))


def test_untrimmed_pairs_by_hand_repeat_the_last_frame_and_follow_the_rate():
    """12.5 fps: offsets floor(12.5 j) = 0, 12, 25, 37, 50 for j * 12.5 < count."""
    snippets = [0, 1, 2, 3, 4, 12, 13, 14, 15, 16, 25, 26, 27, 28, 29, 37, 38, 39, 40, 41]
    # 59 flow frames: ceil(59 / 12.5) = 5 snippets, the last one 50..54
    assert list(sampled_flow.untrimmed_flow_frames(59, 12.5, FLOW, 1.0)) == \
        snippets + [50, 51, 52, 53, 54]
    # 52 flow frames: the last snippet 50, 51, 51, 51, 51 (the last frame repeated)
    assert list(sampled_flow.untrimmed_flow_frames(52, 12.5, FLOW, 1.0)) == snippets + [50, 51]
    # 10 fps, 2 snippets a second: a step of 5 frames, snippets overlap nothing
    assert list(sampled_flow.untrimmed_flow_frames(20, 10.0, FLOW, 2.0)) == list(range(20))
    assert list(sampled_flow.untrimmed_flow_frames(30, 30.0, FLOW, 1.0)) == [0, 1, 2, 3, 4]


def test_selector_is_the_union_of_its_models_and_empty_without_flow_frames():
    three = serving.ViewSettings(modality="flow", input_size=32, mean=(128.0,), std=(1.0,),
                                 num_segments=3, snippet_length=2)
    # 254 frames, K=3, L=2: tick = 253 / 3, offsets int(42.17 + 84.33 i) = 42, 126, 210
    assert sampled_flow.selector([three])(254, 30.0) == [42, 43, 126, 127, 210, 211]
    both = sampled_flow.selector([three, FLOW])(254, 30.0)
    assert both == sorted({42, 43, 126, 127, 210, 211} |
                          {10 * i + 5 + s for i in range(25) for s in range(5)})
    assert sampled_flow.selector([FLOW], untrimmed=True, snippets_per_second=[1.0])(
            254, 100.0) == [0, 1, 2, 3, 4, 100, 101, 102, 103, 104, 200, 201, 202, 203, 204]
    assert sampled_flow.selector([FLOW])(0, 30.0) == []


@pytest.mark.parametrize("algorithm", sampled_flow.OPENCV_ALGORITHMS)
def test_flow_of_a_pair_after_a_first_call_depends_only_on_its_frames(algorithm):
    """What computing only some pairs relies on: after an estimator's first call, a
    pair's flow does not depend on which pairs came before; TV-L1 (parallel: a fresh
    estimator per run) and Farneback give the same on a first call too. DIS at 42x32
    does not (sampled_flow warms it on the pair before)."""
    frames = video_lib.read_video(DEMO, short_side=32, max_frames=8).frames
    grays = [cv2.cvtColor(f[..., ::-1], cv2.COLOR_BGR2GRAY) for f in frames]
    results = []
    for history in [[(0, 1), (1, 2)], [(5, 6)], [(7, 6), (0, 1), (4, 5)]]:
        estimator = flow_lib.FlowEstimator(algorithm)
        for a, b in history:
            estimator(grays[a], grays[b])
        results.append(estimator(grays[2], grays[3]))
    for result in results[1:]:
        np.testing.assert_array_equal(result, results[0])
    first_call = flow_lib.FlowEstimator(algorithm)(grays[2], grays[3])
    if algorithm == "dis":
        assert not np.array_equal(first_call, results[0])  # the effect the warm-up handles
    else:
        np.testing.assert_array_equal(first_call, results[0])


# --- the served graph reads only the sampled positions ---------------------------

@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """{modality: ServedModel} of exported RGB and flow models (K=25 at test time)."""
    base = tmp_path_factory.mktemp("sampled_models")
    return {modality: predict.load_served_model(saved_model.export_saved_model(
                make_run_dir(base / f"run_{modality}", modality, seed=seed),
                str(base / "models"), f"tsn_{modality}", warmup_requests=False))
            for seed, modality in enumerate(("rgb", "flow"))}


def test_the_graph_never_decodes_a_frame_it_does_not_sample(models):
    """Flow frames outside the sampled set replaced by bytes that pass `tf.io.is_jpeg`
    but do not decode: same scores; one such frame at a sampled position: an error."""
    streams, _ = client.read_encoded_video(DEMO, ["flow"], flow_algorithm="dis",
                                           preprocessing=Preprocessing(resize=SMALL))
    inputs = client.jpeg_inputs(streams, "flow")
    sampled = sampled_flow.trimmed_flow_frames(len(streams.flow_x_jpegs),
                                               models["flow"].view_settings)
    assert len(sampled) == 125 and len(streams.flow_x_jpegs) == 279
    broken = b"\xff\xd8\xff"  # a JPEG's first bytes, nothing after
    holes = {name: np.array([v if i in set(sampled) else broken for i, v in enumerate(values)],
                            dtype=object) for name, values in inputs.items()}
    signature = models["flow"].signatures[saved_model.SERVING_DEFAULT]

    def scores(request):
        return signature(**{k: tf.constant(v) for k, v in request.items()})["scores"].numpy()

    np.testing.assert_array_equal(scores(holes), scores(inputs))
    holes["flow_x"][sampled[7]] = broken
    with pytest.raises(tf.errors.InvalidArgumentError):
        scores(holes)


# --- sampled pairs vs every pair -------------------------------------------------

def _both_reads(video, modalities, select, **kwargs):
    everything, rate = client.read_encoded_video(video, modalities, **kwargs)
    sampled, sampled_rate = client.read_encoded_video(video, modalities, flow_pairs=select,
                                                      **kwargs)
    assert sampled_rate == rate
    return everything, sampled


def _check_streams(everything, sampled, selected):
    """Same RGB; flow of full length, the every-pair bytes at `selected`, placeholders
    elsewhere."""
    assert sampled.rgb_jpegs == everything.rgb_jpegs
    assert sampled.timestamps_us == everything.timestamps_us
    for name in ("flow_x_jpegs", "flow_y_jpegs"):
        full, part = getattr(everything, name), getattr(sampled, name)
        assert len(part) == len(full) == everything.num_frames - 1
        real = [i for i, jpeg in enumerate(part) if jpeg != sampled_flow.PLACEHOLDER_JPEG]
        assert real == list(selected)
        assert all(part[i] == full[i] for i in selected)


# TV-L1 takes 70 ms a 42x32 pair (a fixed iteration count): 22x16 frames in the fast
# runs. DIS at 42x32 shows its first-call effect (sampled_flow's module doc).
ALGORITHM_SIZES = [("dis", SMALL), ("farneback", SMALL), ("tvl1", "short_side=16"),
                   pytest.param("tvl1", SMALL, marks=pytest.mark.slow)]


@pytest.mark.parametrize("algorithm,resize", ALGORITHM_SIZES)
def test_sampled_pairs_give_the_every_pair_scores_trimmed(models, algorithm, resize):
    """279 flow frames: tick = 275 / 25 = 11, offsets int(5.5 + 11 i): 125 distinct pairs."""
    options = predict.ReadOptions(flow_algorithm=algorithm, resize=resize)
    pair = [models["rgb"], models["flow"]]
    select = predict.flow_pairs_selector(pair, options)
    everything, sampled = _both_reads(DEMO, ["rgb", "flow"], select, preprocessing=Preprocessing(
            resize=resize, flow_algorithm=algorithm))
    _check_streams(everything, sampled, [int(5.5 + 11 * i) + s for i in range(25)
                                         for s in range(5)])
    full = predict.score_video(str(DEMO), pair, options=predict.ReadOptions(
            flow_algorithm=algorithm, resize=resize, all_flow_pairs=True))
    fewer = predict.score_video(str(DEMO), pair, options=options)
    np.testing.assert_array_equal(fewer.scores, full.scores)
    np.testing.assert_array_equal(fewer.probabilities, full.probabilities)


@pytest.mark.parametrize("algorithm,resize,video", [
        *[(a, r, DEMO) for a, r in ALGORITHM_SIZES[:3]],
        pytest.param("tvl1", SMALL, DEMO, marks=pytest.mark.slow),
        ("dis", SMALL, DATA_DIR / "test_video_structuralize.mp4")])
def test_sampled_pairs_give_the_every_pair_scores_untrimmed(models, algorithm, resize, video):
    """One snippet a second: demo.mp4 at 28 fps (10 snippets of 279 flow frames), and a
    29.97 fps file whose offsets follow the float32 rate the signature gets."""
    options = predict.ReadOptions(flow_algorithm=algorithm, resize=resize)
    pair = [models["rgb"], models["flow"]]
    select = predict.flow_pairs_selector(pair, options, untrimmed=True)
    everything, sampled = _both_reads(video, ["rgb", "flow"], select, preprocessing=Preprocessing(
            resize=resize, flow_algorithm=algorithm))
    _, rate = client.read_encoded_video(video, ["rgb"],
                                        preprocessing=Preprocessing(resize=resize))
    num_flow = everything.num_frames - 1
    step = np.float64(np.float32(rate))
    offsets = [int(np.floor(j * step)) for j in range(int(np.ceil(num_flow / step)))]
    expected = sorted({min(p + s, num_flow - 1) for p in offsets for s in range(5)})
    _check_streams(everything, sampled, expected)
    full_scores, full_times = predict.snippet_scores(str(video), pair, options=predict.ReadOptions(
            flow_algorithm=algorithm, resize=resize, all_flow_pairs=True))
    scores, times = predict.snippet_scores(str(video), pair, options=options)
    np.testing.assert_array_equal(scores, full_scores)
    np.testing.assert_array_equal(times, full_times)


def test_a_wrong_header_count_computes_the_missing_pairs_in_a_second_decode(models):
    """The header's frame count chooses the pairs while decoding; when it is wrong, the
    pairs of the decoded count are computed on a second read, with the same bytes."""
    options = encode.options_for(Preprocessing(resize=SMALL, flow_algorithm="dis"), ["flow"])
    select = sampled_flow.selector([models["flow"].view_settings])
    opened = []

    def open_reader(header_count):
        def make():
            reader = video_lib.VideoReader(DEMO, short_side=32)
            reader.header_frame_count = header_count
            opened.append(reader)
            return reader
        return make

    right, _ = sampled_flow.encode_sampled(open_reader(280), options, select)
    assert len(opened) == 1
    wrong, _ = sampled_flow.encode_sampled(open_reader(200), options, select,
                                           allow_truncated=True)
    assert len(opened) == 3
    assert wrong.flow_x_jpegs == right.flow_x_jpegs and wrong.flow_y_jpegs == right.flow_y_jpegs
    unknown, _ = sampled_flow.encode_sampled(open_reader(0), options, select)
    assert len(opened) == 5 and unknown.flow_x_jpegs == right.flow_x_jpegs
    bar = tqdm.tqdm(file=io.StringIO())  # a header promising more frames: the bar ends full
    more, _ = sampled_flow.encode_sampled(open_reader(400), options, select, bar=bar,
                                          allow_truncated=True)
    assert len(opened) == 7 and more.flow_x_jpegs == right.flow_x_jpegs
    assert bar.n == bar.total >= 125


def test_other_flow_keeps_every_pair():
    """Flow that is not OpenCV's, or --all_flow_pairs: no selector (every pair)."""
    def flow_model(algorithm):
        return predict.ServedModel(path="f", modality="flow", labels=[], signatures={},
                                   preprocessing=Preprocessing(flow_algorithm=algorithm),
                                   view_settings=FLOW)

    assert predict.flow_pairs_selector([flow_model("dis")], predict.ReadOptions()) is not None
    assert predict.flow_pairs_selector([flow_model("tvl1_tsn")], predict.ReadOptions()) is None
    assert predict.flow_pairs_selector([flow_model("imported:dis")],  # computes dis
                                       predict.ReadOptions()) is not None
    assert predict.flow_pairs_selector([flow_model("dis")], predict.ReadOptions(
            all_flow_pairs=True)) is None
    assert predict.flow_pairs_selector([flow_model("dis")], predict.ReadOptions(
            flow_algorithm="farneback")) is not None


@pytest.mark.slow
def test_tvl1_workers_share_the_sampled_pairs_with_the_serial_bytes(models):
    preprocessing = Preprocessing(resize=SMALL, flow_algorithm="tvl1")
    select = predict.flow_pairs_selector([models["flow"]], predict.ReadOptions())
    serial, _ = client.read_encoded_video(DEMO, ["flow"], preprocessing=preprocessing,
                                          flow_pairs=select)
    parallel, _ = client.read_encoded_video(DEMO, ["flow"], preprocessing=preprocessing,
                                            flow_pairs=select, flow_workers=2)
    assert parallel.flow_x_jpegs == serial.flow_x_jpegs
    assert parallel.flow_y_jpegs == serial.flow_y_jpegs


@pytest.mark.slow
def test_tsn_predict_bar_counts_the_sampled_pairs_and_prints_the_every_pair_ranking(models):
    printed = {}
    for flag, bar in (("--noall_flow_pairs", "125/125 pairs"), ("--all_flow_pairs",
                                                                 "279/279 pairs")):
        result = run_module("tsn_tf.export.predict_main",
                            f"--model={models['rgb'].path},{models['flow'].path}",
                            "--flow_algorithm=dis", "--short_side=32", flag, DEMO)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "demo.mp4 flow:" in result.stderr and bar in result.stderr, result.stderr
        printed[flag] = printed_ranking(result.stdout)
    assert len(printed["--all_flow_pairs"]) == 5
    assert printed["--noall_flow_pairs"] == printed["--all_flow_pairs"]


def test_warped_flow_streams_hold_the_every_pair_bytes_at_the_sampled_positions(models):
    """A read for flow and warped flow models computes both streams at the union of
    their pairs (here the same protocol: 125 pairs)."""
    select = sampled_flow.selector([models["flow"].view_settings])
    preprocessing = Preprocessing(resize=SMALL, flow_algorithm="dis")
    everything, sampled = _both_reads(DEMO, ["flow", "warped_flow"], select,
                                      preprocessing=preprocessing)
    # 279 flow frames: tick = (279 - 5 + 1) / 25 = 11, offsets int(5.5 + 11 i)
    selected = [int(5.5 + 11 * i) + step for i in range(25) for step in range(5)]
    _check_streams(everything, sampled, selected)
    for name in ("warped_flow_x_jpegs", "warped_flow_y_jpegs"):
        full, part = getattr(everything, name), getattr(sampled, name)
        assert len(part) == len(full) == 279
        assert [i for i, jpeg in enumerate(part) if jpeg != sampled_flow.PLACEHOLDER_JPEG] == \
            list(selected)
        assert all(part[i] == full[i] for i in selected)
