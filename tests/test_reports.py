"""The confusion-matrix PNG tsn-eval writes, checked by its pixels (2, 8 and 101 classes)."""
import cv2
import numpy as np
import pytest

from tsn_tf.trainers import reports


def viridis(fraction):
    """RGB of OpenCV's viridis colour map at a 0..1 fraction (8-bit level, rounded)."""
    level = np.uint8(round(255 * fraction))
    return cv2.applyColorMap(np.full((1, 1), level, np.uint8), cv2.COLORMAP_VIRIDIS)[0, 0, ::-1]


def box_of(image, rgb):
    """(top, bottom, left, right) of the largest area of colour `rgb` (text cut into it
    counts as inside), or None."""
    mask = np.all(image == rgb, axis=-1).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    if count < 2:
        return None
    left, top, width, height, _ = stats[1 + np.argmax(stats[1:, cv2.CC_STAT_AREA])]
    return top, top + height, left, left + width


def dark_pixels(region):
    return int((region.max(axis=-1) < 100).sum())


def test_two_classes_show_names_counts_and_a_colour_bar(tmp_path):
    matrix = np.array([[11, 1], [3, 5]])
    reports.write_report(str(tmp_path), {"top1": 80.0}, np.repeat([0, 1, 0, 1], [11, 1, 3, 5]),
                         np.repeat([0, 0, 1, 1], [11, 1, 3, 5]), ["walk", "run"])
    image = cv2.imread(str(tmp_path / "confusion.png"))[..., ::-1]
    assert min(image.shape[:2]) >= 240  # was 24x24
    cells = {}
    for (row, col), count in np.ndenumerate(matrix):
        cells[row, col] = box_of(image, viridis(count / matrix[row].sum()))
        top, bottom, left, right = cells[row, col]
        assert bottom - top >= 40 and right - left >= 40  # a cell you can read a number in
        inside = image[top:bottom, left:right]
        text = ~np.all(inside == viridis(count / matrix[row].sum()), axis=-1)
        assert 20 < text.sum() < 0.3 * text.size, (row, col)  # its count is written in it
    # 11/12 and 5/8 of the row are light cells, written in black; 1/12 and 3/8 in white
    for (row, col), dark in {(0, 0): True, (1, 1): True, (0, 1): False, (1, 0): False}.items():
        top, bottom, left, right = cells[row, col]
        assert (dark_pixels(image[top:bottom, left:right]) > 10) == dark, (row, col)
    # class names left of each row and above each column
    (top0, bottom0, left0, _), (top1, bottom1, _, _) = cells[0, 0], cells[1, 1]
    assert dark_pixels(image[top0:bottom0, :left0]) > 20
    assert dark_pixels(image[top1:bottom1, :left0]) > 20
    assert dark_pixels(image[:top0, left0:cells[0, 1][2]]) > 20
    # the colour bar right of the matrix runs from viridis(1) down to viridis(0)
    right = cells[0, 1][3]
    top_bar, bottom_bar = box_of(image[:, right:], viridis(1.0)), box_of(image[:, right:],
                                                                         viridis(0.0))
    assert top_bar is not None and bottom_bar is not None and top_bar[0] < bottom_bar[0]


@pytest.mark.parametrize("num_classes", [8, 101])
def test_many_classes_get_legible_cells_and_every_name(num_classes, tmp_path):
    names = [f"ApplyEyeMakeup{i}" for i in range(num_classes)]
    matrix = np.eye(num_classes, dtype=int) * 4
    matrix[0, 1] = 4  # class 0: half right
    image = reports.confusion_image(matrix, names)
    cv2.imwrite(str(tmp_path / f"confusion_{num_classes}.png"), image[..., ::-1])
    top, bottom, left, right = box_of(image, viridis(1.0))  # the correct-class diagonal
    cell = (bottom - top) / (num_classes - 1)
    assert cell >= 12 and (right - left) / (num_classes - 1) == cell
    assert box_of(image, viridis(0.5)) is not None  # class 0's two halves
    for row in range(num_classes):  # a name left of every row
        row_top = int(top + (row - 1) * cell)
        assert dark_pixels(image[row_top:int(row_top + cell), :left - int(cell)]) > 5, row
