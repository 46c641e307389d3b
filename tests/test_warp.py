"""Warped flow cancels camera motion: a synthetic pan gives near-zero flow."""
import cv2
import numpy as np
import pytest

from tsn_tf.input.ingestion import flow, warp

SIZE = (160, 120)
MARGIN = 20


def _scene(seed=1):
    width, height = SIZE
    texture = np.random.default_rng(seed).uniform(0, 255, (height + 2 * MARGIN,
                                                           width + 2 * MARGIN))
    return cv2.GaussianBlur(texture.astype(np.float32), (0, 0), 1.5)


def _camera_view(scene, pan):
    """The frame a camera sees after panning by `pan` px (content moves by -pan)."""
    matrix = np.float32([[1, 0, -(MARGIN + pan[0])], [0, 1, -(MARGIN + pan[1])]])
    image = cv2.warpAffine(scene, matrix, SIZE, flags=cv2.INTER_CUBIC,
                           borderMode=cv2.BORDER_REFLECT)
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("algorithm", ["dis", "farneback", "tvl1"])
def test_pure_pan_gives_near_zero_warped_flow(algorithm):
    pan = (2.3, 1.1)
    scene = _scene()
    prev, nxt = _camera_view(scene, (0, 0)), _camera_view(scene, pan)
    plain = flow.compute_flow(prev, nxt, algorithm)[10:-10, 10:-10]
    warped = warp.compute_warped_flow(prev, nxt, algorithm)[10:-10, 10:-10]
    np.testing.assert_allclose(plain.reshape(-1, 2).mean(axis=0), [-2.3, -1.1], atol=0.15)
    assert np.linalg.norm(warped, axis=-1).mean() < 0.3


def test_homography_of_a_pan_is_the_translation():
    scene = _scene()
    homography = warp.estimate_camera_motion(_camera_view(scene, (0, 0)),
                                             _camera_view(scene, (3.0, -2.0)))
    np.testing.assert_allclose(homography[:2, 2], [-3.0, 2.0], atol=0.3)
    np.testing.assert_allclose(homography[:2, :2], np.eye(2), atol=0.02)


def test_object_motion_survives_while_pan_is_removed():
    pan, object_step = (2.0, 0.0), 4.0
    scene = _scene()
    prev, nxt = _camera_view(scene, (0, 0)), _camera_view(scene, pan)
    patch = _scene(seed=7)[:30, :30].astype(np.uint8)
    prev[40:70, 50:80] = patch
    nxt[40:70, 54:84] = patch  # the object moves +4 px in the image
    warped = warp.compute_warped_flow(prev, nxt, "dis")
    # In stabilized coordinates the object moved +4 - (-2) = +6 px relative to the scene.
    assert np.median(warped[48:62, 58:72, 0]) == pytest.approx(object_step + pan[0], abs=0.5)
    assert np.linalg.norm(warped[90:110, 10:40], axis=-1).mean() < 0.3


def test_featureless_frames_fall_back_to_identity():
    flat = np.full((48, 64), 100, np.uint8)
    np.testing.assert_array_equal(warp.estimate_camera_motion(flat, flat), np.eye(3))
