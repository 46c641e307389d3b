"""The audio stream's pipeline: segment patches, alignment with frames, SpecAugment, presence."""
import numpy as np
import pytest
import tensorflow as tf

from conftest import DATA_DIR, write_records
from tsn_tf.input.ingestion import encode
from tsn_tf.input.contract import log_mel as log_mel_lib
from tsn_tf.input.pipeline import audio_dataset, sampling
from tsn_tf.input.contract import schema
from tsn_tf.modalities import get_modality

P = audio_dataset.PATCH_FRAMES


def _record(media_id, num_frames, label, present=True, mel_bins=64):
    """A record whose log-mel frame i holds i + bin / 100 (so patches reveal their frames)."""
    frames = np.arange(num_frames)[:, None] + np.arange(mel_bins)[None, :] / 100.0
    extra = dict(audio_present=present)
    if present:
        extra.update(audio_log_mel=frames.astype(np.float32), audio_mel_bins=mel_bins,
                     audio_timestamps_us=log_mel_lib.frame_timestamps_us(num_frames),
                     audio_feature_rate=100.0, audio_sample_rate=16000.0,
                     audio_window_samples=400, audio_hop_samples=160,
                     audio_source_sample_rate=44100.0)
    return schema.VideoRecord(media_id=media_id, label_indices=[label],
                              label_strings=[f"c{label}"], height=8, width=8, frame_rate=25.0,
                              rgb_jpegs=[], timestamps_us=[], **extra)


def np_patch_offsets(num_frames, num_segments, patch_frames):
    """NumPy reference of the evaluation rule: segment centres, patch centred, kept inside."""
    centres = sampling.np_eval_offsets(num_frames, num_segments, 1)
    return np.clip(centres - patch_frames // 2, 0, max(num_frames - patch_frames, 0))


@pytest.mark.parametrize("num_frames, num_segments", [(654, 3), (654, 25), (200, 3), (50, 3)])
def test_eval_offsets_match_numpy_reference(num_frames, num_segments):
    got = audio_dataset.patch_offsets(num_frames, num_segments, P, training=False).numpy()
    np.testing.assert_array_equal(got, np_patch_offsets(num_frames, num_segments, P))


def test_train_offsets_centre_a_random_frame_of_each_segment():
    support = sampling.np_train_offset_support(654, 3, 1)
    seen = set()
    for draw in range(30):
        offsets = audio_dataset.patch_offsets(654, 3, P, training=True,
                                               seed=tf.constant([draw, 7])).numpy()
        for k, offset in enumerate(offsets):
            centre = offset + P // 2
            # unclamped patches are centred on a frame of their segment
            if 0 < offset < 654 - P:
                assert centre in support[k]
            assert 0 <= offset <= 654 - P
        seen.add(tuple(offsets))
    assert len(seen) > 20


def test_short_track_repeats_its_last_frame():
    log_mel = tf.constant(np.arange(10, dtype=np.float32)[:, None] * np.ones([1, 4], np.float32))
    offsets = audio_dataset.patch_offsets(10, 2, 16, training=False)
    patches = audio_dataset.gather_patches(log_mel, offsets, 16).numpy()
    np.testing.assert_array_equal(offsets, [0, 0])
    np.testing.assert_array_equal(patches[0, :, 0], [*range(10), *[9] * 6])


@pytest.fixture(scope="module")
def test_avi_record():
    return encode.ingest_video(DATA_DIR / "test.avi", media_id="test",
                               label_indices=[0], label_strings=["x"],
                               options=encode.IngestOptions(modalities=("rgb", "audio"),
                                                            size=(64, 48)))


@pytest.mark.parametrize("num_segments", [3, 7, 25])
def test_eval_audio_patch_covers_the_time_of_its_segment_frame(test_avi_record, num_segments):
    record = test_avi_record
    frames_v, frames_a = len(record.rgb_jpegs), len(record.audio_log_mel)
    frame_offsets = sampling.eval_offsets(frames_v, num_segments, 1).numpy()
    patch_offsets = audio_dataset.patch_offsets(frames_a, num_segments, P,
                                                 training=False).numpy()
    stamps = np.asarray(record.audio_timestamps_us) / 1e6
    half_window = log_mel_lib.WINDOW_SAMPLES / 2 / log_mel_lib.SAMPLE_RATE
    for frame, patch in zip(frame_offsets, patch_offsets):
        shown = record.timestamps_us[frame] / 1e6, record.timestamps_us[frame] / 1e6 + 0.04
        heard = stamps[patch] - half_window, stamps[patch + P - 1] + half_window
        assert heard[0] <= shown[0] and shown[1] <= heard[1]
        centre = (heard[0] + heard[1]) / 2
        inside = heard[0] > 0.01 and heard[1] < stamps[-1]  # patches not pushed by an end
        if inside:
            assert abs(centre - sum(shown) / 2) < 0.04 + 0.01  # one video frame + one hop


def test_train_audio_patch_centre_lies_in_its_segment_time_span(test_avi_record):
    frames_a = len(test_avi_record.audio_log_mel)
    duration = len(test_avi_record.rgb_jpegs) / 25.0
    stamps = np.asarray(test_avi_record.audio_timestamps_us) / 1e6
    for draw in range(20):
        offsets = audio_dataset.patch_offsets(frames_a, 3, P, training=True,
                                               seed=tf.constant([draw, 1])).numpy()
        for k, offset in enumerate(offsets):
            if 0 < offset < frames_a - P:
                centre = stamps[offset + P // 2]
                assert k * duration / 3 - 0.03 <= centre <= (k + 1) * duration / 3 + 0.03


def test_band_mask_matches_numpy():
    starts = tf.constant([[2, 7], [0, 0]])
    widths = tf.constant([[3, 0], [1, 10]])
    got = audio_dataset.band_mask(starts, widths, 10).numpy()
    expected = np.zeros([2, 10], bool)
    expected[0, 2:5] = True
    expected[1, 0:10] = True
    np.testing.assert_array_equal(got, expected)


def _bands(flags):
    """(start, width) runs of True in a 1-D bool array."""
    runs, start = [], None
    for i, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i - start))
            start = None
    return runs


@pytest.mark.parametrize("in_dataset", [False, True])
def test_spec_augment_zeroes_whole_time_and_frequency_bands(in_dataset):
    patches = tf.constant(np.random.default_rng(0).uniform(1, 2, (4, P, 64)), tf.float32)
    seeds = [tf.constant([s, 3]) for s in range(12)]
    if in_dataset:
        dataset = tf.data.Dataset.from_tensor_slices(tf.stack(seeds)).map(
                lambda seed: audio_dataset.spec_augment(patches, seed))
        outputs = [o.numpy() for o in dataset]
    else:
        outputs = [audio_dataset.spec_augment(patches, seed).numpy() for seed in seeds]
    source = patches.numpy()
    masked_counts = []
    for output in outputs:
        masked = output == 0
        np.testing.assert_array_equal(output[~masked], source[~masked])
        for k in range(4):
            rows = masked[k].all(axis=1)
            cols = masked[k].all(axis=0)
            np.testing.assert_array_equal(masked[k], rows[:, None] | cols[None, :])
            time_bands, freq_bands = _bands(rows), _bands(cols)
            # two masks of each kind (overlapping ones merge; adjacent ones may touch)
            assert sum(w for _, w in time_bands) <= 2 * audio_dataset.TIME_MASK_FRAMES
            assert sum(w for _, w in freq_bands) <= 2 * audio_dataset.FREQ_MASK_BINS
            masked_counts.append(masked[k].sum())
    assert max(masked_counts) > 0 and len(set(masked_counts)) > 5
    np.testing.assert_array_equal(audio_dataset.spec_augment(patches, seeds[0]).numpy(),
                                  outputs[0])


def test_eval_dataset_normalizes_segment_patches_and_flags_missing_audio(tmp_path):
    shard = write_records(tmp_path / "eval.tfrecord",
                   [_record("a", 300, 1), _record("silent", 0, 2, present=False)])
    dataset = audio_dataset.make_audio_dataset(shard, num_segments=3, training=False,
                                                batch_size=2, mean=1.0, std=2.0)
    clips, labels, extras = next(iter(dataset))
    assert clips.shape == (2, 1, 3, P, 64, 1)
    np.testing.assert_array_equal(labels.numpy(), [1, 2])
    np.testing.assert_array_equal(extras["audio_present"].numpy(), [True, False])
    frames = np.arange(300)[:, None] + np.arange(64)[None, :] / 100.0
    offsets = np_patch_offsets(300, 3, P)
    expected = (np.stack([frames[o:o + P] for o in offsets]) - 1.0) / 2.0
    np.testing.assert_allclose(clips[0, 0, ..., 0].numpy(), expected, atol=1e-5)
    np.testing.assert_array_equal(clips[1].numpy(), 0.0)


def test_training_skips_videos_without_audio_and_masks(tmp_path):
    shard = write_records(tmp_path / "train.tfrecord",
                   [_record(f"v{i}", 150 + 10 * i, i % 2) for i in range(5)]
                   + [_record("silent", 0, 1, present=False)])
    dataset = audio_dataset.make_audio_dataset(shard, num_segments=2, training=True,
                                                batch_size=1, seed=0, deterministic=True)
    clips = [(c.numpy(), l.numpy()) for c, l in dataset]
    assert len(clips) == 5  # the video without audio is skipped
    assert all(c.shape == (1, 2, P, 64, 1) for c, _ in clips)
    assert any((c == 0).any() for c, _ in clips)  # SpecAugment masked something
    unmasked = audio_dataset.make_audio_dataset(
            shard, num_segments=2, training=True, batch_size=1, seed=0,
            spec_augment_options=dict(time_masks=0, freq_masks=0))
    for clip, _ in unmasked:
        normalized = clip.numpy()[0, ..., 0] * log_mel_lib.LOG_MEL_STD + log_mel_lib.LOG_MEL_MEAN
        steps = np.diff(normalized[:, :, 0], axis=1)  # consecutive frames of the record
        np.testing.assert_allclose(steps, 1.0, atol=1e-4)


def test_shards_without_audio_ingested_fail_naming_the_video(tmp_path):
    record = _record("no_audio_key", 0, 0, present=None)
    shard = write_records(tmp_path / "rgb_only.tfrecord", [record])
    dataset = audio_dataset.make_audio_dataset(shard, num_segments=3, training=False,
                                                batch_size=1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="no_audio_key.*audio"):
        next(iter(dataset))


def test_make_dataset_serves_the_audio_modality(tmp_path):
    from tsn_tf.input import pipeline
    shard = write_records(tmp_path / "eval.tfrecord", [_record("a", 250, 1)])
    common = dict(num_segments=3, training=False, batch_size=1, mean=0.5, std=2.0)
    clips, labels, extras = next(iter(pipeline.make_dataset(shard, modality="audio",
                                                            eval_crops=10, **common)))
    direct = next(iter(audio_dataset.make_audio_dataset(shard, **common)))[0]
    assert clips.shape == (1, 1, 3, P, 64, 1)
    np.testing.assert_array_equal(clips.numpy(), direct.numpy())
    with pytest.raises(ValueError, match="no untrimmed mode"):
        pipeline.make_dataset(shard, modality="audio", untrimmed_fps=1.0, **common)


def test_model_input_shape_is_the_pipelines_patch():
    # tsn_tf.modalities fixes the audio model's snippet shape; the pipeline cuts the patches
    assert get_modality("audio").item_shape == (P, log_mel_lib.MEL_BINS)
