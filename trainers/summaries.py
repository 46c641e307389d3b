"""TensorBoard output of the trainers: scalars and input clips as images."""
import numpy as np
import tensorflow as tf

MAX_CLIPS = 3


def writer(model_dir, name):
    """A summary writer under model_dir/name, or a no-op writer when model_dir is None."""
    if model_dir is None:
        return tf.summary.create_noop_writer()
    return tf.summary.create_file_writer(f"{model_dir}/{name}")


def scalars(summary_writer, values, step):
    with summary_writer.as_default(step=step):
        for name, value in values.items():
            tf.summary.scalar(name, value)
    summary_writer.flush()


def flow_to_rgb(flow_x, flow_y):
    """Quantized flow (H, W) x2 in 0..255 -> uint8 (H, W, 3): hue = direction, value = magnitude."""
    dx, dy = flow_x - 128.0, flow_y - 128.0
    hue = (np.arctan2(dy, dx) + np.pi) / (2 * np.pi)
    value = np.clip(np.hypot(dx, dy) / 64.0, 0, 1)
    hsv = np.stack([hue, np.ones_like(hue), value], -1).astype("float32")
    return (tf.image.hsv_to_rgb(hsv).numpy() * 255).astype("uint8")


def clip_frames(clip, modality, mean, std):
    """One normalized clip (K, H, W, C·L) -> uint8 (K, H, W, 3) pictures of its segments."""
    if modality == "audio":  # normalized log-mel (K, T, M, 1): +-3 std over 0..255
        return np.clip((clip + 3.0) * (255 / 6.0), 0, 255).astype("uint8")
    channels = clip.shape[-1]
    mean = np.resize(np.asarray(mean, "float32"), channels)
    if modality == "rgb_diff":
        mean = np.zeros_like(mean)
    values = clip * np.resize(np.asarray(std, "float32"), channels) + mean
    if modality in ("flow", "warped_flow"):
        return np.stack([flow_to_rgb(segment[..., 0], segment[..., 1]) for segment in values])
    if modality == "rgb_diff":
        return np.clip(values[..., :3] + 128.0, 0, 255).astype("uint8")
    return np.clip(values[..., :3], 0, 255).astype("uint8")


def clip_images(summary_writer, batch, strategy, modality, mean, std, step, prepare=None):
    """Logs the segments of a few clips of the first replica's first micro-batch
    (through `prepare` first when given: see `train_loop.make_train_step`)."""
    first = tf.nest.map_structure(
            lambda value: strategy.experimental_local_results(value)[0][0][:MAX_CLIPS], batch[0])
    clips = (prepare(first) if prepare else first).numpy()        # (b, K, H, W, C)
    with summary_writer.as_default(step=step):
        for index, clip in enumerate(clips):
            tf.summary.image(f"input/clip_{index}", clip_frames(clip, modality, mean, std),
                             max_outputs=clip.shape[0])
    summary_writer.flush()
