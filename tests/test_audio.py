"""Audio ingestion: PyAV decode on real files, log-mel frames, shard round trip."""
import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from tsn_tf.input.ingestion import audio, encode

from tsn_tf.input.contract import log_mel
from tsn_tf.input.contract import layout, schema
from tsn_tf import synthetic
from tsn_tf.synthetic import audio as synthetic_audio

AUDIO_RGB = encode.IngestOptions(modalities=("rgb", "audio"), size=(64, 48))


def _read_wav(path):
    """(channels, n) float in [-1, 1] of a 16-bit PCM WAV, decoded with TF's own reader."""
    waveform, rate = tf.audio.decode_wav(tf.io.read_file(str(path)))
    return waveform.numpy().T, int(rate)


def test_log_mel_matches_tf_signal_reference():
    samples = np.random.default_rng(0).normal(0, 0.3, 8000).astype(np.float32)
    weights = tf.signal.linear_to_mel_weight_matrix(
            log_mel.MEL_BINS, log_mel.FFT_LENGTH // 2 + 1, log_mel.SAMPLE_RATE,
            log_mel.MEL_LOW_HZ, log_mel.MEL_HIGH_HZ).numpy()
    np.testing.assert_allclose(log_mel.mel_matrix(), weights, atol=1e-5)
    stft = tf.signal.stft(samples, log_mel.WINDOW_SAMPLES, log_mel.HOP_SAMPLES, log_mel.FFT_LENGTH,
                          window_fn=tf.signal.hann_window)
    expected = np.log(np.abs(stft.numpy()) @ weights + log_mel.LOG_OFFSET)
    frames = log_mel.log_mel(samples)
    assert frames.shape == (1 + (8000 - 400) // 160, 64) == expected.shape
    np.testing.assert_allclose(frames, expected, atol=1e-4)


def test_frame_count_and_timestamps_are_window_centres():
    assert [log_mel.num_frames(n) for n in (0, 399, 400, 559, 560)] == [0, 0, 1, 1, 2]
    assert log_mel.frame_timestamps_us(3, start_s=0.5) == [512500, 522500, 532500]


@pytest.fixture(scope="module")
def tone_video(tmp_path_factory):
    """A synthetic 2 s video (25 fps) with a 1 kHz tone muxed in by PyAV."""
    path = str(tmp_path_factory.mktemp("tone") / "tone.avi")
    frames = synthetic.render_trimmed("blob_left", seed=0, index=0, num_frames=50,
                                      size=(64, 48))
    synthetic.write_video(path, frames, 25.0)
    synthetic_audio.add_audio_track(path, synthetic_audio.tone(1000.0, 2.0), path)
    return path


def test_known_tone_peaks_at_its_mel_bin_after_ingestion(tone_video):
    record = encode.ingest_video(tone_video, media_id="tone", label_indices=[0],
                                 label_strings=["tone"], options=AUDIO_RGB)
    frames = np.asarray(record.audio_log_mel)
    assert record.audio_present and len(record.rgb_jpegs) == 50
    assert frames.shape == (log_mel.num_frames(32000), 64) == (198, 64)
    expected_bin = int(np.argmin(np.abs(log_mel.mel_centres_hz() - 1000.0)))
    assert 15 < expected_bin < 25  # 1 kHz sits in the lower third of 125-7500 Hz
    peaks = frames[5:-5].argmax(axis=1)  # away from the 10 ms fades
    np.testing.assert_array_equal(peaks, expected_bin)
    # a pure tone leaves bins far from it at the log floor
    assert frames[5:-5, expected_bin].min() > frames[5:-5, 50:].max() + 5
    assert record.audio_timestamps_us[0] == 12500
    assert record.audio_timestamps_us[-1] == 12500 + 197 * 10000
    assert (record.audio_sample_rate, record.audio_source_sample_rate) == (16000, 16000)


def test_audio_round_trips_through_the_sequence_example(tone_video):
    record = encode.ingest_video(tone_video, media_id="tone", label_indices=[0],
                                 label_strings=["tone"], options=AUDIO_RGB)
    example = schema.to_sequence_example(record)
    context = example.context.feature
    assert context[schema.AUDIO_PRESENT].int64_list.value == [1]
    assert context[schema.AUDIO_DIMENSIONS].int64_list.value == [64]
    assert context[schema.AUDIO_FEATURE_RATE].float_list.value == [100.0]
    assert context[schema.AUDIO_SAMPLE_RATE].float_list.value == [16000.0]
    assert context[schema.AUDIO_NUM_SAMPLES].int64_list.value == [400]
    assert context[schema.AUDIO_HOP_SAMPLES].int64_list.value == [160]
    frames = example.feature_lists.feature_list[schema.AUDIO_FLOATS].feature
    assert len(frames) == 198 and len(frames[0].float_list.value) == 64
    back = schema.from_sequence_example(example.SerializeToString())
    np.testing.assert_array_equal(np.asarray(back.audio_log_mel, np.float32),
                                  record.audio_log_mel)
    assert back.audio_timestamps_us == list(record.audio_timestamps_us)
    assert back.audio_present is True and back.audio_hop_samples == 160


def test_real_clip_track_decodes_to_its_duration_at_16khz(data_dir):
    decoded = audio.read_audio(data_dir / "test.avi")
    assert decoded.source_sample_rate == 44100 and decoded.sample_rate == 16000
    assert decoded.start_s == 0.0
    assert len(decoded.samples) == 104908  # 6.55675 s, as test.wav
    assert abs(decoded.duration_s - 6.557) < 0.001
    # test.wav is the same track at 16 kHz (stereo 16-bit): same mono waveform
    reference, rate = _read_wav(data_dir / "test.wav")
    assert rate == 16000 and reference.shape == (2, 104908)
    mono = reference.mean(axis=0)
    assert np.corrcoef(decoded.samples, mono)[0, 1] > 0.9999
    assert np.abs(decoded.samples - mono).max() < 2e-4


def test_real_clip_ingested_audio_matches_the_video_length(data_dir):
    record = encode.ingest_video(data_dir / "test.avi", media_id="test", label_indices=[0],
                                 label_strings=["x"], options=AUDIO_RGB)
    # 164 frames at 25 fps = 6.56 s of video; the 6.557 s track fits inside
    assert len(record.rgb_jpegs) == 164
    assert len(record.audio_log_mel) == log_mel.num_frames(104908) == 654
    assert record.audio_timestamps_us[-1] < record.timestamps_us[-1] + 40000
    capped = encode.ingest_video(data_dir / "test.avi", media_id="test", label_indices=[0],
                                 label_strings=["x"], options=encode.IngestOptions(
                                     modalities=("audio",), size=(64, 48), max_frames=50))
    # 50 frames = 2 s of video: the track is cut there (32000 samples)
    assert len(capped.audio_log_mel) == log_mel.num_frames(32000)
    assert capped.rgb_jpegs == [] and capped.audio_present


def test_video_without_audio_is_ingested_and_marked(data_dir):
    record = encode.ingest_video(data_dir / "part_0.mp4", media_id="part_0", label_indices=[1],
                                 label_strings=["x"], options=AUDIO_RGB)
    assert len(record.rgb_jpegs) == 32
    assert record.audio_present is False and len(record.audio_log_mel) == 0
    example = schema.to_sequence_example(record)
    assert example.context.feature[schema.AUDIO_PRESENT].int64_list.value == [0]
    assert schema.AUDIO_FLOATS not in example.feature_lists.feature_list
    assert schema.AUDIO_DIMENSIONS not in example.context.feature
    assert schema.from_sequence_example(example).audio_present is False


def test_without_the_audio_modality_nothing_audio_is_written(data_dir):
    record = encode.ingest_video(data_dir / "test.avi", media_id="t", label_indices=[0],
                                 label_strings=["x"], options=encode.IngestOptions(
                                     modalities=("rgb",), size=(64, 48), max_frames=5))
    assert record.audio_present is None
    example = schema.to_sequence_example(record)
    assert schema.AUDIO_PRESENT not in example.context.feature
    assert schema.from_sequence_example(example).audio_present is None


def test_clip_to_video_drops_audio_outside_the_video():
    track = audio.DecodedAudio(np.arange(16000, dtype=np.float32), 16000, 48000, start_s=-0.25)
    clipped = audio.clip_to_video(track, max_duration_s=0.5)
    assert clipped.start_s == 0.0 and clipped.samples[0] == 4000 and len(clipped.samples) == 8000
    late = audio.clip_to_video(dataclasses.replace(track, start_s=0.1), max_duration_s=0.5)
    assert late.start_s == 0.1 and len(late.samples) == 6400 and late.samples[0] == 0


def test_broken_audio_file_is_named(tmp_path):
    path = tmp_path / "garbage.avi"
    path.write_bytes(b"not a media file" * 100)
    with pytest.raises(audio.AudioDecodeError, match="garbage.avi"):
        audio.read_audio(path)


def test_bad_record_audio_shape_is_named():
    record = schema.VideoRecord(media_id="v", label_indices=[0], label_strings=["a"], height=1,
                                width=1, frame_rate=25.0, rgb_jpegs=[], timestamps_us=[],
                                audio_present=True, audio_log_mel=np.zeros([3, 10]),
                                audio_timestamps_us=[0, 1, 2], audio_mel_bins=64)
    with pytest.raises(ValueError, match="v: audio_log_mel must be"):
        schema.to_sequence_example(record)


def test_tsn_ingest_stores_audio_and_marks_silent_videos(tmp_path, data_dir):
    import shutil
    import subprocess
    import sys
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(data_dir / "test.avi", videos / "talk.avi")
    shutil.copy(data_dir / "part_0.mp4", videos / "mute.mp4")
    (tmp_path / "train.csv").write_text("talk.avi,talk\nmute.mp4,mute\n")
    output = tmp_path / "shards"
    result = subprocess.run(
            [sys.executable, "-m", "tsn_tf.input.ingestion.ingest_main", f"--video_dir={videos}",
             "--list_format=csv", f"--list_files={tmp_path / 'train.csv'}",
             f"--output={output}", "--modalities=rgb,audio", "--frame_size=64x48",
             "--max_frames=50", "--workers=0"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    records = {}
    for path in output.glob("*.tfrecord"):
        for example in layout.read_videos(str(path)):
            record = schema.from_sequence_example(example)
            records[record.media_id] = record
    assert sorted(records) == ["mute", "talk"]
    assert records["talk"].audio_present and len(records["talk"].rgb_jpegs) == 50
    assert len(records["talk"].audio_log_mel) == log_mel.num_frames(32000)  # 2 s of video
    assert records["mute"].audio_present is False and len(records["mute"].rgb_jpegs) == 32
