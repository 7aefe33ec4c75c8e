"""Stage 2, preprocess: boxes found on the transformed image map back to the original's pixels.

Each test draws a black block at a known place, transforms the image, finds the block again
in the transformed image, and maps that box back with ``Prepared.box_to_original``.
"""

from __future__ import annotations

import numpy as np
import pytest

from ingest import preprocess

BLOCK = (70, 40, 120, 30)  # x, y, w, h in the original


def image_with_block(width: int, height: int, block: tuple[int, int, int, int] = BLOCK) -> np.ndarray:
    image = np.full((height, width, 3), 255, np.uint8)
    x, y, w, h = block
    image[y : y + h, x : x + w] = 0
    return image


def find_block(image: np.ndarray) -> tuple[int, int, int, int]:
    """``[x, y, w, h]`` of the dark pixels, in the pixel-index convention tesseract uses."""
    ys, xs = np.nonzero(image.min(axis=2) < 128)
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def assert_close(mapped: list[int], expected: tuple[int, int, int, int], tolerance: int) -> None:
    assert len(mapped) == 4 and all(isinstance(v, int) for v in mapped)
    assert np.abs(np.array(mapped) - np.array(expected)).max() <= tolerance, (mapped, expected)


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_box_maps_back_through_a_quarter_turn(turns: int) -> None:
    prepared = preprocess.rotate_quarter_turns(preprocess.start(image_with_block(400, 240)), turns)
    assert prepared.steps == [f"rotate_{turns * 90}"]
    assert_close(prepared.box_to_original(find_block(prepared.image)), BLOCK, tolerance=1)


def test_quarter_turn_swaps_the_image_sides() -> None:
    prepared = preprocess.rotate_quarter_turns(preprocess.start(image_with_block(400, 240)), 1)
    assert prepared.image.shape[:2] == (400, 240)
    assert prepared.original_size == (400, 240)


def test_full_turn_is_no_step() -> None:
    start = preprocess.start(image_with_block(400, 240))
    assert preprocess.rotate_quarter_turns(start, 4) is start


def test_box_maps_back_through_upscaling_of_a_small_card() -> None:
    prepared = preprocess.scale_for_ocr(preprocess.start(image_with_block(400, 240)))
    assert prepared.image.shape[1] > 400  # a small card is enlarged for tesseract
    assert_close(prepared.box_to_original(find_block(prepared.image)), BLOCK, tolerance=1)


def test_box_maps_back_through_downscaling_of_a_huge_image() -> None:
    block = (900, 600, 600, 240)
    prepared = preprocess.scale_for_ocr(preprocess.start(image_with_block(4000, 2400, block)))
    assert prepared.image.shape[1] < 4000
    assert_close(prepared.box_to_original(find_block(prepared.image)), block, tolerance=2)


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_box_maps_back_through_scaling_then_turning_as_the_pipeline_does(turns: int) -> None:
    prepared = preprocess.scale_for_ocr(preprocess.start(image_with_block(400, 240)))
    prepared = preprocess.rotate_quarter_turns(prepared, turns)
    assert len(prepared.steps) == 2 and prepared.steps[-1] == f"rotate_{turns * 90}"
    assert_close(prepared.box_to_original(find_block(prepared.image)), BLOCK, tolerance=1)


def test_box_mapping_is_clipped_to_the_original_image() -> None:
    prepared = preprocess.scale_for_ocr(preprocess.start(image_with_block(400, 240)))
    height, width = prepared.image.shape[:2]
    x, y, w, h = prepared.box_to_original((width - 10, height - 10, 500, 500))
    assert x >= 0 and y >= 0 and x + w <= 400 and y + h <= 240


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_box_maps_back_through_a_quarter_turn_to_the_exact_pixels(turns: int) -> None:
    block = (0, 0, 5, 3)  # touching the corner: an off-by-one is clipped away, not just shifted
    prepared = preprocess.rotate_quarter_turns(preprocess.start(image_with_block(400, 240, block)), turns)
    assert prepared.box_to_original(find_block(prepared.image)) == list(block)
