"""Stage 2, preprocess: make the card upright, flat and sized for tesseract.

Each step returns the new image and the 3x3 matrix that maps its pixel coordinates
back to the loaded image, so every box reported to the user is in the original's pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

# Tesseract reads best when capital letters are ~20-40 px tall. Scans of cards at
# 460-1270 px wide have 8-15 px letters: a 2x cubic upscale lifts e-mail and website
# recall on ../shared/eval (see README); photos are cropped to the card first.
UPSCALE_BELOW_WIDTH = 800  # 800-1400 px scans gain ~0.01 F1 from 2x for 1.7x the OCR time
UPSCALE_FACTOR = 2.0
MAX_OCR_WIDTH = 2600
CARD_DETECT_WIDTH = 800  # contour search runs on a small copy: fast, and enough for a card's outline


@dataclass
class Prepared:
    """The image tesseract will see and how to map its coordinates back."""

    image: np.ndarray
    to_original: np.ndarray = field(default_factory=lambda: np.eye(3))
    steps: list[str] = field(default_factory=list)
    original_size: tuple[int, int] = (0, 0)  # width, height of the loaded image

    def then(self, image: np.ndarray, new_to_previous: np.ndarray, step: str) -> Prepared:
        """Chain a step: ``new_to_previous`` maps the new image's coords to this one's."""
        return Prepared(image, self.to_original @ new_to_previous, [*self.steps, step], self.original_size)

    def box_to_original(self, box: tuple[int, int, int, int]) -> list[int]:
        """Map an ``[x, y, w, h]`` box to the original image, as the bounding box of its corners."""
        x, y, w, h = box
        corners = np.array([[x, y, 1], [x + w, y, 1], [x, y + h, 1], [x + w, y + h, 1]], dtype=np.float64).T
        mapped = self.to_original @ corners
        mapped = mapped[:2] / mapped[2]
        width, height = self.original_size
        x0, y0 = np.clip(mapped[0].min(), 0, width), np.clip(mapped[1].min(), 0, height)
        x1, y1 = np.clip(mapped[0].max(), 0, width), np.clip(mapped[1].max(), 0, height)
        return [round(x0), round(y0), round(x1 - x0), round(y1 - y0)]


def start(image: np.ndarray) -> Prepared:
    return Prepared(image=image, original_size=(image.shape[1], image.shape[0]))


# --- card detection and perspective -------------------------------------------------


def find_card_quad(image: np.ndarray) -> np.ndarray | None:
    """Corners (tl, tr, br, bl) of the largest convex quadrilateral that looks like a card, or None.

    A card must cover 8-92% of the frame: a scan whose card fills the image has nothing to crop.
    """
    height, width = image.shape[:2]
    scale = CARD_DETECT_WIDTH / max(width, height)
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
    scale = min(scale, 1.0)
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
    grey = cv2.GaussianBlur(grey, (5, 5), 0)
    area_total = grey.shape[0] * grey.shape[1]
    candidates = []
    edges = cv2.dilate(cv2.Canny(grey, 30, 90), np.ones((3, 3), np.uint8))
    _, otsu = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    for mask in (edges, otsu, 255 - otsu):
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            area = cv2.contourArea(contour)
            if not 0.08 * area_total < area < 0.92 * area_total:
                continue
            hull = cv2.convexHull(contour)
            approx = cv2.approxPolyDP(hull, 0.02 * cv2.arcLength(hull, True), True)
            if len(approx) == 4 and cv2.isContourConvex(approx):
                candidates.append((cv2.contourArea(approx), approx.reshape(4, 2)))
            else:  # rounded corners or a shadow: fall back to the minimum-area rectangle if it fits well
                rect = cv2.boxPoints(cv2.minAreaRect(hull))
                if area / max(cv2.contourArea(rect), 1) > 0.9:
                    candidates.append((cv2.contourArea(rect), rect))
    for _, quad in sorted(candidates, key=lambda c: -c[0]):
        if _outside_is_background(edges, quad):
            return order_corners(quad.astype(np.float64) / scale)
    return None


def _outside_is_background(edges: np.ndarray, quad: np.ndarray) -> bool:
    """A card lies on a plain surface; a logo box or colour band inside a scan has text around it."""
    inside = np.zeros(edges.shape, np.uint8)
    cv2.fillConvexPoly(inside, quad.astype(np.int32), 255)
    near = cv2.dilate(inside, np.ones((15, 15), np.uint8))  # the card's own edge and shadow
    outside = near == 0
    if outside.sum() < 0.05 * edges.size:
        return False
    return float((edges[outside] > 0).mean()) < 0.02


def order_corners(points: np.ndarray) -> np.ndarray:
    sums, diffs = points.sum(axis=1), np.diff(points, axis=1).ravel()
    return np.array(
        [points[np.argmin(sums)], points[np.argmin(diffs)], points[np.argmax(sums)], points[np.argmax(diffs)]]
    )


def crop_to_card(prepared: Prepared) -> Prepared:
    """Warp the detected card to a flat rectangle; keep the whole image when no card is found."""
    quad = find_card_quad(prepared.image)
    if quad is None:
        return prepared
    tl, tr, br, bl = quad
    width = round(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl)))
    height = round(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr)))
    if width < 50 or height < 30:
        return prepared
    target = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], dtype=np.float64)
    warp = cv2.getPerspectiveTransform(quad.astype(np.float32), target.astype(np.float32))
    flat = cv2.warpPerspective(
        prepared.image, warp, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    return prepared.then(flat, np.linalg.inv(warp), "crop_to_card")


# --- size and rotation ----------------------------------------------------------------


def scale_for_ocr(prepared: Prepared) -> Prepared:
    """Upscale small cards and downscale huge ones so letters land in tesseract's sweet spot."""
    width = max(prepared.image.shape[:2])
    if width < UPSCALE_BELOW_WIDTH:
        factor = min(UPSCALE_FACTOR, MAX_OCR_WIDTH / width)
        interpolation = cv2.INTER_CUBIC
    elif width > MAX_OCR_WIDTH:
        factor = MAX_OCR_WIDTH / width
        interpolation = cv2.INTER_AREA
    else:
        return prepared
    scaled = cv2.resize(prepared.image, None, fx=factor, fy=factor, interpolation=interpolation)
    back = np.diag([1 / factor, 1 / factor, 1.0])
    return prepared.then(scaled, back, f"scale_{factor:.2f}")


def limit_size(prepared: Prepared) -> Prepared:
    """Only the downscale half of :func:`scale_for_ocr` (the fast profile never enlarges)."""
    if max(prepared.image.shape[:2]) <= MAX_OCR_WIDTH:
        return prepared
    return scale_for_ocr(prepared)


def rotate_quarter_turns(prepared: Prepared, turns: int) -> Prepared:
    """Rotate counter-clockwise by ``turns`` x 90 degrees."""
    turns %= 4
    if turns == 0:
        return prepared
    height, width = prepared.image.shape[:2]
    rotated = np.ascontiguousarray(np.rot90(prepared.image, turns))
    # Map box edges (not pixel centres) of the rotated image back to the unrotated one.
    if turns == 1:
        back = np.array([[0, -1, width], [1, 0, 0], [0, 0, 1]], dtype=np.float64)
    elif turns == 2:
        back = np.array([[-1, 0, width], [0, -1, height], [0, 0, 1]], dtype=np.float64)
    else:
        back = np.array([[0, 1, 0], [-1, 0, height], [0, 0, 1]], dtype=np.float64)
    return prepared.then(rotated, back, f"rotate_{turns * 90}")


def to_grey(prepared: Prepared) -> Prepared:
    """Tesseract binarises internally; a grey image halves what it has to read from disk."""
    if prepared.image.ndim == 2:
        return prepared
    grey = cv2.cvtColor(prepared.image, cv2.COLOR_BGR2GRAY)
    return Prepared(grey, prepared.to_original, [*prepared.steps, "grey"], prepared.original_size)
