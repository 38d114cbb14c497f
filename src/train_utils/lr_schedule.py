"""Per-step learning rates: linear scaling with the global batch, step or cosine decay, linear warm-up."""
import math

import numpy as np

SCHEDULES = ('step', 'cosine')


def scale_lr(base_lr, global_batch, lr_batch_size):
    """The linear scaling rule: `base_lr` holds at `lr_batch_size` clips per step (0.01 at 64 in the recipe)."""
    return base_lr * global_batch / lr_batch_size


def create_lr_schedule(lr, steps_per_epoch, epochs, *, schedule='step', lr_steps=(), lr_decay=0.1,
                       warmup_epochs=0):
    """float32 array `(epochs * steps_per_epoch,)`: the learning rate of every training step.

    step: `lr * lr_decay ** k` after the k-th epoch of `lr_steps`; cosine: from `lr` to 0 over all steps. During the
    first `warmup_epochs` the rate rises linearly from `lr / warmup_steps` to the scheduled value.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {SCHEDULES}, got {schedule!r}")
    if steps_per_epoch < 1 or epochs < 1:
        raise ValueError(f"need at least one step and one epoch, got {steps_per_epoch} steps x {epochs} epochs")
    total = steps_per_epoch * epochs
    step = np.arange(total)
    if schedule == 'step':
        decays = np.searchsorted(np.asarray(sorted(lr_steps)) * steps_per_epoch, step, side='right')
        rates = lr * lr_decay ** decays
    else:
        rates = lr * 0.5 * (1 + np.cos(math.pi * step / total))
    warmup = min(warmup_epochs * steps_per_epoch, total)
    if warmup:
        rates[:warmup] *= (step[:warmup] + 1) / warmup
    return rates.astype(np.float32)
