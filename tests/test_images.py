"""Image decoding: every odd-but-valid image gets an array; every broken one a clear error."""

import numpy as np
import pytest
from PIL import Image

from dlapp.errors import InvalidImageError
from dlapp.images import fit_image, load_for_model, open_image
from dlapp.testing import broken_images, encode, odd_images, sample_rgb

MAX = 25_000_000


@pytest.mark.parametrize("name", sorted(odd_images()))
def test_odd_images_decode_to_model_input(name):
    data = odd_images()[name]
    for size, channels in (((32, 32), 3), ((28, 28), 1)):
        arr = load_for_model(data, size, channels, max_pixels=MAX)
        assert arr.shape == (*size, channels) and arr.dtype == np.uint8


@pytest.mark.parametrize("name", sorted(broken_images()))
def test_broken_images_raise_clear_error(name):
    with pytest.raises(InvalidImageError) as err:
        open_image(broken_images()[name], max_pixels=MAX)
    assert len(str(err.value)) > 20 and "Traceback" not in str(err.value)


def test_pixel_cap_is_checked_before_decoding():
    big = encode(Image.new("RGB", (6000, 5000)), "PNG")  # 30 MP, but a small file
    with pytest.raises(InvalidImageError, match="megapixels"):
        open_image(big, max_pixels=MAX)


def test_an_image_past_pillows_bomb_guard_still_gets_the_megapixel_message(tmp_path):
    path = tmp_path / "huge.png"
    Image.new("L", (12000, 12000)).save(path)  # 144 MP, a small file: Pillow warns, dlapp must explain
    with pytest.raises(InvalidImageError, match="144.0 megapixels"):
        open_image(path, max_pixels=MAX)
    with pytest.raises(InvalidImageError, match="megapixels; the limit"):
        open_image(broken_images()["bomb.png"], max_pixels=MAX)  # past Pillow's hard limit too


def test_damaged_images_say_so_without_errno_text():
    for name in ("truncated.jpg", "truncated.png"):
        with pytest.raises(InvalidImageError) as err:
            load_for_model(broken_images()[name], (32, 32), 3, max_pixels=MAX)
        assert "damaged" in str(err.value) and "Errno" not in str(err.value)


def test_exif_rotation_is_applied():
    img = Image.new("RGB", (40, 20), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° CW on display
    upright = open_image(encode(img, "JPEG", exif=exif.tobytes()), max_pixels=MAX)
    assert upright.size == (20, 40)


def test_animated_gif_uses_first_frame():
    arr = load_for_model(odd_images()["animated.gif"], (8, 8), 3, max_pixels=MAX)
    r, g, b = arr.reshape(-1, 3).mean(axis=0)
    assert r > 200 and g < 60 and b < 60  # the first frame is red


def test_transparency_composites_on_white():
    rgba = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    arr = load_for_model(encode(rgba, "PNG"), (4, 4), 3, max_pixels=MAX)
    assert arr.min() == 255


def test_fit_keeps_aspect_ratio():
    # A wide image with a red left half and a blue right half: centre-cropping keeps both halves
    # side by side rather than squashing; an extreme strip is padded instead of cropped away.
    arr = np.zeros((30, 50, 3), np.uint8)
    arr[:, :25] = (255, 0, 0)
    arr[:, 25:] = (0, 0, 255)
    out = fit_image(Image.fromarray(arr), (10, 10), 3)
    assert out[5, 0, 0] > 200 and out[5, 9, 2] > 200
    strip = fit_image(sample_rgb(1000, 10), (32, 32), 3)
    assert strip[0].max() == 0 and strip[15].max() > 0  # letterboxed: the strip sits between black bars


def test_16bit_is_scaled_not_clipped():
    i16 = Image.fromarray(np.full((4, 4), 40000, dtype=np.uint16))
    arr = load_for_model(encode(i16, "PNG"), (4, 4), 1, max_pixels=MAX)
    assert 140 < arr.mean() < 256  # clipping would give 255 everywhere only for values > 255 * 256
