"""Synthetic set with sound: muxed tracks, audio-only classes, determinism."""
import filecmp
import os

import numpy as np
import pytest

from tsn_tf.input.ingestion import audio, video

from tsn_tf.input.contract import log_mel
from tsn_tf import synthetic
from tsn_tf.synthetic import audio as synthetic_audio

SMALL = dict(videos_per_class=2, num_frames=25, size=(48, 36), fps=25.0, seed=3)


@pytest.fixture(scope="module")
def audio_set(tmp_path_factory):
    out_dir = str(tmp_path_factory.mktemp("synthetic_audio"))
    return out_dir, synthetic.make_synthetic_dataset(out_dir, audio=True, **SMALL)


def _path(out_dir, class_name, index):
    return os.path.join(out_dir, "videos", class_name,
                        f"{class_name}_{index:03d}{synthetic.EXTENSION}")


def _peak_hz(path):
    frames = log_mel.log_mel(audio.read_audio(path).samples)
    return log_mel.mel_centres_hz()[np.bincount(frames[5:-5].argmax(axis=1)).argmax()]


def test_lists_hold_the_video_classes_then_the_audio_classes(audio_set):
    out_dir, lists = audio_set
    assert open(lists["classes"]).read().split() == [*synthetic.CLASSES, "tone_low", "tone_high"]
    train = open(lists["train"]).read().split()
    assert len(train) == 20 and "videos/tone_high/tone_high_000.avi,tone_high" in train


def test_every_video_keeps_its_frames_and_carries_a_track(audio_set, tmp_path):
    out_dir, _ = audio_set
    for class_name in synthetic.ALL_CLASSES:
        path = _path(out_dir, class_name, 1)
        decoded = video.read_video(path)
        assert decoded.num_frames == 25 and decoded.frame_rate == 25.0
        # the JPEG packets are copied: the same frames as OpenCV's file without audio
        silent = str(tmp_path / f"{class_name}.avi")
        synthetic.write_video(silent, synthetic.render_trimmed(
                class_name, seed=3, index=1, num_frames=25, size=(48, 36)), 25.0)
        np.testing.assert_array_equal(decoded.frames, video.read_video(silent).frames)
        assert audio.read_audio(silent) is None
        track = audio.read_audio(path)
        assert track.sample_rate == 16000 and len(track.samples) == 16000  # 1 s


def test_audio_classes_differ_only_by_sound(audio_set):
    out_dir, _ = audio_set
    for index in range(2):
        low, high = _path(out_dir, "tone_low", index), _path(out_dir, "tone_high", index)
        np.testing.assert_array_equal(video.read_video(low).frames,
                                      video.read_video(high).frames)
        assert 280 <= _peak_hz(low) <= 380
        assert 1900 <= _peak_hz(high) <= 2500


def test_video_classes_sound_alike_for_one_index(audio_set):
    out_dir, _ = audio_set
    peaks = {_peak_hz(_path(out_dir, name, 0)) for name in synthetic.CLASSES}
    assert len(peaks) == 1 and 550 <= peaks.pop() <= 1250
    first = audio.read_audio(_path(out_dir, "red_square", 0)).samples
    np.testing.assert_array_equal(audio.read_audio(_path(out_dir, "blob_left", 0)).samples,
                                  first)


def test_same_seed_same_bytes(audio_set, tmp_path):
    out_dir, _ = audio_set
    again = synthetic.make_synthetic_dataset(str(tmp_path), audio=True, **SMALL)
    assert again["classes"].endswith("classes.txt")
    for class_name in ("red_square", "tone_low"):
        assert filecmp.cmp(_path(out_dir, class_name, 0), _path(str(tmp_path), class_name, 0),
                           shallow=False)


def test_tone_is_a_faded_sine():
    samples = synthetic_audio.tone(500.0, 0.1, amplitude=0.5)
    assert samples.shape == (1600,) and samples[0] == 0 and samples[-1] == 0
    times = np.arange(160, 1440) / 16000
    np.testing.assert_allclose(samples[160:1440], 0.5 * np.sin(2 * np.pi * 500 * times),
                               atol=1e-6)


def test_untrimmed_with_audio_is_refused(tmp_path):
    with pytest.raises(ValueError, match="audio=True is for the trimmed set"):
        synthetic.make_synthetic_dataset(str(tmp_path), untrimmed=True, audio=True)
