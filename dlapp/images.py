"""Decode any image a user might upload into the uint8 array a model expects."""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, JpegImagePlugin, UnidentifiedImageError

from .errors import InvalidImageError
from .limits import JPEG_REDUCED_MAX

ImageSource = str | Path | bytes | Image.Image | np.ndarray
_EXTREME_ASPECT = 2.0  # beyond this, center-cropping would throw most of the picture away


def open_image(source: ImageSource, *, max_pixels: int) -> Image.Image:
    """Open `source` as an upright RGB or L image (first frame if animated), of at most
    `max_pixels`. A baseline JPEG of up to JPEG_REDUCED_MAX times that (a 48 or 200 MP phone
    photo) is decoded reduced, at 1/2, 1/4 or 1/8 of its size, so it never holds more pixels.

    Raises:
        InvalidImageError: unreadable, truncated, not an image, or over its pixel cap.
    """
    if isinstance(source, np.ndarray):
        if source.ndim >= 2:  # the same cap as for files, before converting a single pixel
            _check_pixels(source.shape[1], source.shape[0], max_pixels)
        return _from_array(source)
    if isinstance(source, Image.Image):
        img = source
    else:
        try:
            fp = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")
        except OSError as exc:
            raise InvalidImageError(f"Cannot read the file: {exc.strerror or exc}.") from None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own cap below is stricter
                img = Image.open(fp)
        except Image.DecompressionBombError as exc:  # so large Pillow will not even read the header
            img = _open_jpeg(fp)  # Pillow's guard (179 MP) is below a 200 MP phone's JPEG; ours follows
            if img is None:
                fp.close()
                raise InvalidImageError(_too_large(str(exc), max_pixels)) from None
        except UnidentifiedImageError:
            fp.close()
            raise InvalidImageError("This file is not an image format we can read "
                                    "(try JPEG, PNG, GIF, WebP, BMP or TIFF).") from None
        except (OSError, ValueError, SyntaxError):
            fp.close()
            raise InvalidImageError(_DAMAGED) from None
    width, height = img.size
    if width < 1 or height < 1:
        raise InvalidImageError("This image has no pixels.")
    if not _decode_reduced(img, max_pixels):
        _check_pixels(width, height, max_pixels)  # from the header, before decoding a single pixel
    try:
        if getattr(img, "is_animated", False):
            img.seek(0)
        img.load()
        img = ImageOps.exif_transpose(img)
        return _normalize_mode(img)
    except Image.DecompressionBombError as exc:
        raise InvalidImageError(_too_large(str(exc), max_pixels)) from None
    except (OSError, ValueError, SyntaxError):
        raise InvalidImageError(_DAMAGED) from None


def _open_jpeg(fp) -> Image.Image | None:
    """`fp` opened as a JPEG without Pillow's decompression-bomb check (the caller checks the
    size itself), or None if it is no JPEG."""
    try:
        fp.seek(0)
        return JpegImagePlugin.JpegImageFile(fp)
    except (OSError, ValueError, SyntaxError):
        return None


def _decode_reduced(img: Image.Image, max_pixels: int) -> bool:
    """Whether `img` is a baseline JPEG over `max_pixels` that libjpeg will decode reduced under
    it (Pillow's draft: 1/2, 1/4 or 1/8 per side, in the DCT, never at full size). Raises
    InvalidImageError for a JPEG too large even so. A progressive JPEG is never reduced: libjpeg
    keeps its every DCT coefficient in memory (2 to 6 bytes per pixel) whatever the scale."""
    width, height = img.size
    if img.format != "JPEG" or width * height <= max_pixels:
        return False
    if img.info.get("progressive"):
        _check_pixels(width, height, max_pixels, what="a progressive JPEG")
    limit = max_pixels * JPEG_REDUCED_MAX
    if width * height > limit:
        _check_pixels(width, height, limit, what="a JPEG")
    scale = next(s for s in (2, 4, 8) if -(-width // s) * -(-height // s) <= max_pixels)
    img.draft(img.mode, (width // scale, height // scale))  # at least that size: Pillow picks exactly `scale`
    return img.size[0] * img.size[1] <= max_pixels


def _check_pixels(width: int, height: int, max_pixels: int, *, what: str = "an image") -> None:
    if width * height > max_pixels:
        raise InvalidImageError(
            f"This image is {width}×{height} ({width * height / 1e6:.1f} megapixels); "
            f"the limit is {max_pixels / 1e6:.0f} megapixels for {what}. Please resize it first."
        )


_DAMAGED = "This image is damaged or truncated; open it in an image editor and save it again."


def _too_large(pillow_message: str, max_pixels: int) -> str:
    found = re.search(r"\((\d+) pixels\)", pillow_message)  # "Image size (144000000 pixels) exceeds limit ..."
    size = f"{int(found[1]) / 1e6:,.0f} megapixels" if found else "too many megapixels"
    return f"This image has {size}; the limit is {max_pixels / 1e6:.0f} megapixels. Please resize it first."


def _from_array(arr: np.ndarray) -> Image.Image:
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
        raise InvalidImageError(f"An image array must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got {arr.shape}.")
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating) and arr.size and arr.max() <= 1.0:
            arr = arr * 255.0
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return _normalize_mode(Image.fromarray(arr))


def _normalize_mode(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB or L, compositing transparency onto white."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = arr.max() if arr.size else 0
        scale = 255.0 / top if top > 255 else 1.0  # 16-bit data spans 0..65535
        return Image.fromarray(np.clip(arr * scale, 0, 255).astype(np.uint8), "L")
    if img.mode == "P" or img.mode == "PA":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "La", "RGBa"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode == "1":
        return img.convert("L")
    if img.mode not in ("RGB", "L"):
        img = img.convert("RGB")  # CMYK, YCbCr, LAB, HSV...
    return img


def fit_image(img: Image.Image, size: tuple[int, int], channels: int) -> np.ndarray:
    """Resize to (height, width) without distortion and match the channel count.

    Near-square pictures are center-cropped to the target aspect ratio; extreme
    ones (a 10000×10 strip) are padded instead so their content survives.
    """
    height, width = size
    img = img.convert("L" if channels == 1 else "RGB")
    src_ratio = img.width / img.height
    dst_ratio = width / height
    if max(src_ratio / dst_ratio, dst_ratio / src_ratio) > _EXTREME_ASPECT:
        scale = min(width / img.width, height / img.height)
        inner = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))  # never 0 px
        canvas = Image.new(img.mode, (width, height))  # black bars
        canvas.paste(img.resize(inner, Image.Resampling.BILINEAR),
                     ((width - inner[0]) // 2, (height - inner[1]) // 2))
        img = canvas
    else:
        img = ImageOps.fit(img, (width, height), method=Image.Resampling.BILINEAR)
    arr = np.asarray(img, dtype=np.uint8)
    return arr[..., None] if channels == 1 else arr


def load_for_model(source: ImageSource, size: tuple[int, int], channels: int, *, max_pixels: int) -> np.ndarray:
    """open_image + fit_image: one uint8 array of shape (H, W, C)."""
    return fit_image(open_image(source, max_pixels=max_pixels), size, channels)
