"""Training-time image augmentation for the tf.data pipeline (airbench's recipe).

Everything runs on whole batches: per-image map calls cost about a tenth of the
training time on a 2-core CPU.
"""

from __future__ import annotations


def flip_and_translate(images, labels, pad: int | None = None):
    """Mirror half of a (B, H, W, C) batch and shift each image by up to `pad` px (reflect padding;
    default: an eighth of the height, 4 px at 32×32)."""
    from ..backend import tf

    pad = pad or max(1, images.shape[1] // 8)
    shape = tf.shape(images)
    batch, h, w = shape[0], images.shape[1], images.shape[2]
    mirror = tf.random.uniform([batch]) < 0.5
    images = tf.where(mirror[:, None, None, None], tf.reverse(images, [2]), images)
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
