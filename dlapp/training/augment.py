"""Training-time image augmentation for the tf.data pipeline (airbench's recipe).

Everything runs on whole batches: per-image map calls cost about a tenth of the
training time on a 2-core CPU.
"""

from __future__ import annotations


def random_mirror(images, labels):
    """Mirror a random half of a (B, H, W, C) batch."""
    from ..backend import tf

    mirror = tf.random.uniform([tf.shape(images)[0]]) < 0.5
    return tf.where(mirror[:, None, None, None], tf.reverse(images, [2]), images), labels


def flip_and_translate(images, labels, pad: int | None = None):
    """Mirror half of a (B, H, W, C) batch and shift each image by up to `pad` px (reflect padding;
    default: an eighth of the height, 4 px at 32×32)."""
    from ..backend import tf

    pad = pad or max(1, images.shape[1] // 8)
    shape = tf.shape(images)
    batch, h, w = shape[0], images.shape[1], images.shape[2]
    images, labels = random_mirror(images, labels)
    padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="REFLECT")
    dy = tf.random.uniform([batch], 0, 2 * pad + 1, dtype=tf.int32)
    dx = tf.random.uniform([batch], 0, 2 * pad + 1, dtype=tf.int32)
    rows = dy[:, None] + tf.range(h)[None, :]
    cols = dx[:, None] + tf.range(w)[None, :]
    out = tf.gather(padded, rows, axis=1, batch_dims=1)  # (B, H, W + 2 pad, C)
    return tf.gather(out, cols, axis=2, batch_dims=1), labels


def random_jpeg(images, labels, share: float, low: int = 50, high: int = 95):
    """Re-encode about `share` of a (B, H, W, C) uint8 batch as JPEG at a random quality in
    [low, high], so the model does not lean on fine detail that compression removes.
    Only the chosen images pay for the (per-image) codec."""
    from ..backend import tf

    chosen = tf.where(tf.random.uniform([tf.shape(images)[0]]) < share)[:, 0]
    lossy = tf.map_fn(lambda image: tf.image.random_jpeg_quality(image, low, high),
                      tf.gather(images, chosen), fn_output_signature=images.dtype)
    lossy = tf.reshape(lossy, tf.concat([[-1], tf.shape(images)[1:]], 0))  # keeps its shape when none is chosen
    return tf.tensor_scatter_nd_update(images, chosen[:, None], lossy), labels


def as_uploaded(images, labels, share: float, factor: int = 4):
    """Pass about `share` of a (B, H, W, C) uint8 batch through what an upload does to a small picture:
    enlarged (bicubic), then fitted back by Pillow's antialiased bilinear reduction (images.fit_image),
    a soft blur of about one pixel. Without it a model is less sure of an enlarged CIFAR-10 photo than
    of the photo itself, and "none of these" declines twice as many (benchmarks/openset_bench.py).
    4× enlargement blurs as 8× does: the reduction's footprint scales with the factor."""
    from ..backend import tf

    h, w = images.shape[1], images.shape[2]
    chosen = tf.random.uniform([tf.shape(images)[0], 1, 1, 1]) < share
    x = tf.cast(images, tf.float32)
    up = tf.image.resize(x, [h * factor, w * factor], method="bicubic")
    back = tf.image.resize(up, [h, w], method="bilinear", antialias=True)
    back = tf.cast(tf.clip_by_value(tf.round(back), 0, 255), images.dtype)
    return tf.where(chosen, back, images), labels


def add_outliers(images, labels, bank, *, share: float, weight: float):
    """Outlier exposure (Hendrycks et al., 2019) on a (B, H, W, C) batch with one-hot labels: append
    ⌈share·B⌉ images that belong to no class, with uniform targets, and return sample weights so the
    loss is mean(known-class loss) + `weight`·mean(outlier loss), the paper's λ = 0.5 form.

    Half of the outliers come from `bank` (data/outliers.py: made-up images), half from the batch
    itself: its photos cut into 4×4 or 8×8 tiles and shuffled, three of them blended, or one blended
    with a bank image (as PixMix mixes), so the model learns that photo-like texture without an
    object's layout is not a class either.
    """
    from ..backend import tf

    n_in = tf.shape(images)[0]
    n_out = tf.cast(tf.math.ceil(share * tf.cast(n_in, tf.float32)), tf.int32)
    n_bank = n_out // 2 + n_out % 2
    n_own = n_out - n_bank
    picked = tf.gather(bank, tf.random.uniform([n_bank], 0, bank.shape[0], dtype=tf.int32))
    h, w = images.shape[1], images.shape[2]
    own = tf.gather(images, tf.random.shuffle(tf.range(n_in))[:n_own])
    as_float = tf.cast(own, tf.float32)
    blended = (as_float + tf.roll(as_float, 1, 0) + tf.roll(as_float, 2, 0)) / 3
    with_bank = (as_float + tf.cast(tf.gather(bank, tf.random.uniform([tf.shape(own)[0]], 0, bank.shape[0],
                                                                      dtype=tf.int32)), tf.float32)) / 2
    # One tiling per batch (4×4 or 8×8 tiles, one permutation): the images differ, the layout is gone.
    shuffled = tf.cond(tf.random.uniform([]) < 0.5, lambda: _patch_shuffle(own, 4), lambda: _patch_shuffle(own, 8)) \
        if not (h % 8 or w % 8) else tf.cast(blended, own.dtype)
    pick = tf.random.uniform([tf.shape(own)[0], 1, 1, 1])
    mine = tf.where(pick < 0.4, tf.cast(shuffled, tf.float32), tf.where(pick < 0.7, blended, with_bank))
    mine = tf.cast(tf.round(mine), images.dtype)
    outliers = tf.concat([tf.cast(picked, images.dtype), mine], 0)
    k = labels.shape[-1]
    n_all = tf.cast(n_in + n_out, tf.float32)
    in_w = tf.fill([n_in], n_all / tf.cast(n_in, tf.float32))
    out_w = tf.fill([n_out], weight * n_all / tf.maximum(tf.cast(n_out, tf.float32), 1.0))
    return (tf.concat([images, outliers], 0),
            tf.concat([labels, tf.fill([n_out, k], tf.cast(1.0 / k, labels.dtype))], 0),
            tf.concat([in_w, out_w], 0))


def _patch_shuffle(images, g: int):
    """A (B, H, W, C) batch cut into a g×g grid of tiles, put back in one random order."""
    from ..backend import tf

    h, w, c = images.shape[1], images.shape[2], images.shape[3]
    tiles = tf.reshape(images, [-1, g, h // g, g, w // g, c])
    tiles = tf.reshape(tf.transpose(tiles, [0, 1, 3, 2, 4, 5]), [-1, g * g, h // g, w // g, c])
    tiles = tf.gather(tiles, tf.random.shuffle(tf.range(g * g)), axis=1)
    return tf.reshape(tf.transpose(tf.reshape(tiles, [-1, g, g, h // g, w // g, c]), [0, 1, 3, 2, 4, 5]),
                      [-1, h, w, c])
