"""The multi-worker training loop: a custom loop that runs under any tf.distribute strategy.

Keras 3's `fit` fails under MultiWorkerMirroredStrategy (keras-team/keras#20585: "Attempt to convert a
value (PerReplica…) to a Tensor"), so dlapp runs its own epochs, the way TensorFlow's distributed
training guide does: a `tf.function` step that calls `strategy.run` over a distributed dataset, with the
compiled model's optimizer and loss and the same Keras callbacks (progress events, cancel, checkpoints)
`fit` drives. It also runs under the default strategy and MirroredStrategy, but one process keeps `fit`:
on IMDB `fast` this loop ended 1.3 points below `fit`'s shipped result (docs/benchmarks.md).
"""

from __future__ import annotations

from ..backend import keras, tf


def per_example_loss(loss):
    """The compiled loss, unreduced: each replica sums its examples and the sum is divided by the
    whole (global) batch, so a step's gradient is the one a single process computes on that batch."""
    return type(loss).from_config({**loss.get_config(), "reduction": None})


def _known(y, pred):
    """1 for an example of a known class, 0 for an outlier-exposure example (a uniform target)."""
    if pred.shape[-1] != 1 and len(y.shape) == len(pred.shape):
        return tf.cast(tf.reduce_max(tf.cast(y, tf.float32), -1) > 0.5, tf.float32)
    return tf.ones([tf.shape(y)[0]], tf.float32)


def _correct(y, pred, known):
    """How many predictions of known-class examples match: one sigmoid unit (threshold 0.5), one-hot,
    or integer labels, as Keras's "accuracy" picks for each loss."""
    if pred.shape[-1] == 1:
        hit = tf.cast(pred > 0.5, tf.float32) == tf.cast(y, tf.float32)
    elif len(y.shape) == len(pred.shape):  # one-hot (label smoothing)
        hit = tf.argmax(pred, -1) == tf.argmax(y, -1)
    else:
        hit = tf.argmax(pred, -1) == tf.cast(tf.reshape(y, [-1]), tf.int64)
    return tf.reduce_sum(tf.cast(tf.reshape(hit, [-1]), tf.float32) * known)


def broadcast_from_chief(strategy, variables) -> None:
    """Give every worker the chief's values (replica 0's): the model and optimizer state after a resume,
    which only the chief reads from its checkpoint, and anything a worker built on its own."""
    variables = list(variables)
    if not variables:
        return

    @tf.function
    def gather():
        def replica_fn():
            ctx = tf.distribute.get_replica_context()
            keep = tf.cast(ctx.replica_id_in_sync_group == 0, tf.float64)
            return [ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.cast(v.value, tf.float64) * keep)
                    for v in variables]
        return strategy.run(replica_fn)

    values = gather()
    for v, value in zip(variables, values, strict=True):
        v.assign(tf.cast(strategy.experimental_local_results(value)[0], v.dtype))


def agree_on(strategy, value: int) -> int:
    """The chief's `value` (e.g. the epoch a resumed run starts from), on every worker."""
    @tf.function
    def gather():
        def replica_fn():
            ctx = tf.distribute.get_replica_context()
            keep = tf.cast(ctx.replica_id_in_sync_group == 0, tf.float64)
            return ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.constant(float(value), tf.float64) * keep)
        return strategy.run(replica_fn)

    return int(round(float(strategy.experimental_local_results(gather())[0])))


def run_epochs(model, strategy, train_data, val_data, *, epochs: int, initial_epoch: int, steps: int,
               val_steps: int, callbacks: list, verbose: int = 0) -> None:
    """Train `model` (compiled: its optimizer and loss) from `initial_epoch` to `epochs`, `steps` batches
    an epoch, validating on `val_data` after each complete epoch; `callbacks` get fit's hooks and may
    set `model.stop_training` (and `stop_evaluating`) to stop after the current batch."""
    optimizer = model.optimizer
    loss_fn = per_example_loss(model.loss)
    variables = model.trainable_variables
    with strategy.scope():
        optimizer.build(variables)  # its slots exist before the step is traced (a no-op once resumed)

    def forward(x, y, training: bool, weights=None):
        """Weights (outlier exposure) scale each example's loss as fit's sample weights do; the
        curves' loss and accuracy count the examples of a known class only (`_known`)."""
        ctx = tf.distribute.get_replica_context()
        total = ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.cast(tf.shape(y)[0], tf.float32))
        pred = tf.cast(model(x, training=training), tf.float32)
        losses = loss_fn(y, pred)
        if weights is not None:
            losses = losses * tf.cast(weights, tf.float32)
        loss = tf.reduce_sum(losses) / tf.maximum(total, 1.0)
        if model.losses:  # regularization: once over the replicas, whose gradients are summed
            loss += tf.add_n(model.losses) / strategy.num_replicas_in_sync
        known = _known(y, pred)
        return loss, tf.reduce_sum(losses * known), _correct(y, pred, known), tf.reduce_sum(known)

    @tf.function
    def train_step(iterator):
        def replica_fn(x, y, weights=None):
            with tf.GradientTape() as tape:
                loss, *sums = forward(x, y, True, weights)
                scaled = optimizer.scale_loss(loss)  # the loss-scale optimizer's, under mixed_float16
            optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables, strict=True))
            return sums
        return [strategy.reduce(tf.distribute.ReduceOp.SUM, s, axis=None)
                for s in strategy.run(replica_fn, args=tuple(next(iterator)))]

    @tf.function
    def test_step(iterator):
        def replica_fn(x, y):
            return forward(x, y, False)[1:]
        x, y = next(iterator)
        return [strategy.reduce(tf.distribute.ReduceOp.SUM, s, axis=None)
                for s in strategy.run(replica_fn, args=(x, y))]

    def logs(sums, prefix=""):
        loss, correct, n = (float(s) for s in sums)
        return {f"{prefix}loss": loss / max(n, 1.0), f"{prefix}accuracy": correct / max(n, 1.0)}

    dist_train = strategy.experimental_distribute_dataset(train_data)
    dist_val = strategy.experimental_distribute_dataset(val_data) if val_data is not None else None
    hooks = keras.callbacks.CallbackList(callbacks, add_history=False, add_progbar=bool(verbose), model=model,
                                         verbose=verbose, epochs=epochs, steps=steps)
    model.stop_training = False
    hooks.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        hooks.on_epoch_begin(epoch)
        iterator, sums, epoch_logs = iter(dist_train), [0.0, 0.0, 0.0], {}
        for step in range(steps):
            hooks.on_train_batch_begin(step)
            sums = [a + float(b) for a, b in zip(sums, train_step(iterator), strict=True)]
            epoch_logs = logs(sums)
            hooks.on_train_batch_end(step, epoch_logs)
            if model.stop_training:
                break
        if not model.stop_training and dist_val is not None:
            epoch_logs.update(evaluate(model, test_step, dist_val, val_steps, hooks, logs))
        hooks.on_epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
    hooks.on_train_end()


def evaluate(model, test_step, dist_val, val_steps: int, hooks, logs) -> dict[str, float]:
    model.stop_evaluating = False
    iterator, sums = iter(dist_val), [0.0, 0.0, 0.0]
    for step in range(val_steps):
        sums = [a + float(b) for a, b in zip(sums, test_step(iterator), strict=True)]
        hooks.on_test_batch_end(step, logs(sums, "val_"))
        if model.stop_evaluating:
            break
    return logs(sums, "val_")
