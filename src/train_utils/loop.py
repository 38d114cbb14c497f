"""The epoch/step loop: feed batches to the train step, hand each step and epoch to the callbacks."""
import time
from dataclasses import dataclass, field


@dataclass
class TrainContext:
    """What callbacks see. `epoch` and `step` count from 0; `global_step` counts the steps done so far."""
    train_step: object
    net: object
    epochs: int
    steps_per_epoch: int
    epoch: int = 0
    step: int = 0
    global_step: int = 0
    outputs: tuple = ()
    epoch_losses: list = field(default_factory=list)
    epoch_start: float = 0.0


def _call(callbacks, hook, ctx):
    for callback in callbacks:
        method = getattr(callback, hook, None)
        if method is not None:
            method(ctx)


def train_loop(train_step, net, dataset, epochs, start_epoch=0, callbacks=()):
    """Train epochs `start_epoch .. epochs-1` (a resumed run starts after its checkpoint's epoch)."""
    steps_per_epoch = dataset.get_dataset_size()
    ctx = TrainContext(train_step, net, epochs, steps_per_epoch, global_step=start_epoch * steps_per_epoch)
    if start_epoch >= epochs:
        return ctx
    iterator = dataset.create_tuple_iterator(num_epochs=epochs - start_epoch)
    for epoch in range(start_epoch, epochs):
        ctx.epoch, ctx.epoch_losses, ctx.epoch_start = epoch, [], time.time()
        train_step.set_train(True)
        for step, batch in enumerate(iterator):
            ctx.outputs = train_step(*batch)
            ctx.step, ctx.global_step = step, ctx.global_step + 1
            _call(callbacks, 'on_step_end', ctx)
        _call(callbacks, 'on_epoch_end', ctx)
    _call(callbacks, 'on_train_end', ctx)
    return ctx
