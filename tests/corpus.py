"""A hostile-input corpus, built on the fly (nothing here comes from a data set)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def png_bytes(arr: np.ndarray | None = None, size=(32, 32), mode="RGB", **save) -> bytes:
    if arr is None:
        rng = np.random.default_rng(0)
        arr = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    img = Image.fromarray(arr) if mode == "RGB" else Image.fromarray(arr).convert(mode)
    buf = io.BytesIO()
    img.save(buf, format="PNG", **save)
    return buf.getvalue()


def encode(img: Image.Image, fmt: str, **save) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **save)
    return buf.getvalue()


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims width×height pixels (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def sample_rgb(w=64, h=48) -> Image.Image:
    x = np.linspace(0, 255, w, dtype=np.uint8)
    arr = np.stack([np.tile(x, (h, 1)), np.tile(x[::-1], (h, 1)), np.full((h, w), 90, np.uint8)], axis=-1)
    return Image.fromarray(arr)


def broken_images() -> dict[str, bytes]:
    """Files that must be refused with a clear message."""
    jpeg = encode(sample_rgb(), "JPEG")
    png = encode(sample_rgb(), "PNG")
    return {
        "truncated.jpg": jpeg[: len(jpeg) // 2],
        "truncated.png": png[: len(png) // 2],
        "empty.png": b"",
        "random.png": np.random.default_rng(1).integers(0, 255, 4096, dtype=np.uint8).tobytes(),
        "svg.png": b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>',
        "html.png": b"<html><body><script>alert(1)</script></body></html>",
        "text.png": b"just some text, renamed to .png",
        "bomb.png": bomb_png(),
    }


def odd_images() -> dict[str, bytes]:
    """Valid images in unusual modes, sizes and formats: each must get an answer."""
    base = sample_rgb()
    i16 = Image.fromarray((np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) * 20).astype(np.uint16))
    palette_t = base.convert("P", palette=Image.Palette.ADAPTIVE)
    palette_t.info["transparency"] = 0
    frames = [Image.new("RGB", (40, 30), c) for c in ("red", "green", "blue")]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    return {
        "gray.png": encode(base.convert("L"), "PNG"),
        "gray-alpha.png": encode(base.convert("LA"), "PNG"),
        "palette.png": encode(base.convert("P"), "PNG"),
        "palette-transparent.png": encode(palette_t, "PNG"),
        "rgba.png": encode(base.convert("RGBA"), "PNG"),
        "cmyk.jpg": encode(base.convert("CMYK"), "JPEG"),
        "16bit.png": encode(i16, "PNG"),
        "one-pixel.png": encode(Image.new("RGB", (1, 1), "white"), "PNG"),
        "strip-10000x10.png": encode(Image.new("RGB", (10000, 10), "white"), "PNG"),
        "animated.gif": gif.getvalue(),
        "image.tiff": encode(base, "TIFF"),
        "image.webp": encode(base, "WEBP"),
        "image.ico": encode(base, "ICO"),
        "image.bmp": encode(base, "BMP"),
    }


def zip_with(entries: dict[str, bytes], path: Path, *, symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (0o120777 << 16)  # S_IFLNK
            zf.writestr(info, "/etc/passwd")
    return path


def class_folder(root: Path, classes=("red", "blue"), per_class=6, size=24) -> Path:
    """A tiny two-colour image-folder data set that a model can actually learn."""
    colours = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 200, 30)}
    rng = np.random.default_rng(0)
    for cls in classes:
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            arr = np.clip(np.array(colours.get(cls, (128, 128, 128))) + rng.integers(-25, 25, (size, size, 3)), 0, 255)
            Image.fromarray(arr.astype(np.uint8)).save(root / cls / f"{i}.png")
    return root
