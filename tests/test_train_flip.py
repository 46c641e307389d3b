"""Training flip: probability 1/2 per clip, the same for every frame of the clip.

Frames are a horizontal ramp (value 4x at column x), so every crop, resized,
rises from left to right unless mirrored; flow y frames carry the same ramp,
flow x frames too, so a mirrored flow snippet has x = 255 - mirrored ramp
(x + y = 255) and an unmirrored one x = y.
"""
import numpy as np
import pytest
import tensorflow as tf

from conftest import write_records
from tsn_tf.input import pipeline
from tsn_tf.input.contract import schema

CLIPS = 400
FRAMES = 12


def _ramp_video(media_id):
    ramp = np.tile((4 * np.arange(64)).astype(np.uint8), (48, 1))          # (48, 64)
    rgb = [np.repeat(ramp[..., None], 3, axis=-1)] * FRAMES
    return schema.VideoRecord(
            media_id=media_id, label_indices=[0], label_strings=["x"], height=48, width=64,
            frame_rate=10.0, rgb_jpegs=[schema.jpeg_bytes(f) for f in rgb],
            timestamps_us=[i * 100000 for i in range(FRAMES)],
            flow_x_jpegs=[schema.jpeg_bytes(ramp)] * (FRAMES - 1),
            flow_y_jpegs=[schema.jpeg_bytes(ramp)] * (FRAMES - 1))


def _slope(images):
    """Mean of the right quarter minus mean of the left quarter, per image (..., S, S)."""
    width = images.shape[-1]
    return images[..., 3 * width // 4:].mean(axis=(-2, -1)) - images[..., :width // 4].mean(
            axis=(-2, -1))


@pytest.mark.parametrize("modality", ["rgb", "flow"])
def test_flip_is_a_fair_coin_per_clip(tmp_path, modality):
    pattern = write_records(tmp_path / "a.tfrecord", [_ramp_video(f"v{i}") for i in range(4)])
    dataset = pipeline.make_dataset(
            pattern, modality=modality, training=True, num_segments=3, batch_size=50,
            output_size=32, mean=0.0, std=1.0, repeat=True, seed=7, deterministic=True)
    flips = []
    for clips, _ in dataset.take(CLIPS // 50):
        clips = np.moveaxis(clips.numpy(), -1, 2)                  # (B, K, C, S, S)
        if modality == "rgb":
            slopes = _slope(clips).mean(axis=2)                    # (B, K)
        else:
            x, y = clips[:, :, 0::2], clips[:, :, 1::2]
            slopes = _slope(y).mean(axis=2)
            flipped = (slopes < 0)[:, :, None, None, None]
            np.testing.assert_allclose(np.where(flipped, x + y, x - y),
                                       np.broadcast_to(np.where(flipped, 255.0, 0.0), x.shape),
                                       atol=3)
        assert np.all(np.abs(slopes) > 40), "every crop spans a visible part of the ramp"
        per_clip = slopes < 0
        assert np.all(per_clip == per_clip[:, :1]), "one flip for all segments of a clip"
        flips.extend(per_clip[:, 0])
    # Binomial(400, 1/2): mean 200, sd 10; fixed seed, 5 sd tolerance
    assert len(flips) == CLIPS and abs(sum(flips) - CLIPS / 2) < 50, sum(flips)
