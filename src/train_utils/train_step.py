"""One training step: loss, (scaled) gradients, mean over devices, overflow check, global-norm clipping, SGD update.

Overflow is detected the way MindSpore's own `TrainOneStepWithLossScaleCell` does it on Ascend and GPU
(`start_overflow_check` / `get_overflow_status`): on Ascend 910A, and on 910B in saturation mode, float16 overflow
saturates to +-65504 instead of becoming inf, so only the NPU float-status registers see it; MindSpore reads them
and all-reduces the flag over the devices. On CPU, where float16 overflow is IEEE inf, the gradients are checked
for inf/NaN and the flag is all-reduced the same way. The loss is checked too, and that flag is all-reduced as
well, so every rank takes the same decision on the same step: skip it (lowering a dynamic loss scale) or update.
"""
import mindspore as ms
from mindspore import nn, ops

AMP_LEVELS = ('O0', 'O1', 'O2', 'O3')
STATS_PREFIX = 'train_stats_'  # in-graph counters, read by the progress monitor, never saved in checkpoints

_unscale = ops.MultitypeFuncGraph('unscale')


@_unscale.register('Tensor', 'Tensor')
def _unscale_grad(scale, grad):
    return grad * ops.cast(ops.reciprocal(scale), ops.dtype(grad))


def resolve_amp_level(amp_level, device_target):
    """'auto' -> O0 on CPU (where float16 runs ~3x slower), O2 on Ascend/GPU."""
    if amp_level == 'auto':
        return 'O0' if device_target == 'CPU' else 'O2'
    if amp_level not in AMP_LEVELS:
        raise ValueError(f"amp_level must be 'auto' or one of {AMP_LEVELS}, got {amp_level!r}")
    return amp_level


def _counter(name, dtype=ms.int32):
    return ms.Parameter(ms.Tensor(0, dtype), name=STATS_PREFIX + name, requires_grad=False)


class TrainStep(nn.TrainOneStepWithLossScaleCell):
    """`(clip, label) -> (loss, overflow, loss_scale, grad_norm)`; updates the weights unless the step is non-finite.

    Gradients are unscaled, averaged over devices (data parallel), then clipped to `clip_grad_norm` (0: off); the
    reported norm is the one before clipping. A step whose loss or gradients are not finite on any rank is skipped
    on every rank (with a dynamic loss scale, the scale is lowered). In-graph counters (`stats()`) accumulate the
    loss of the updated steps, the skipped steps and the longest run of consecutive skipped steps, so the host
    reads the device only when it logs (also under dataset sinking, where one call runs a whole epoch).
    """

    def __init__(self, net_with_loss, optimizer, scale_sense, clip_grad_norm=0.0):
        super().__init__(net_with_loss, optimizer, scale_sense)
        self.clip_grad_norm = float(clip_grad_norm)
        self.ieee_overflow = ms.get_context('device_target') == 'CPU'
        self.loss_sum = _counter('loss_sum', ms.float32)
        self.updated_steps = _counter('updated_steps')
        self.skipped_steps = _counter('skipped_steps')
        self.streak = _counter('nonfinite_streak')
        self.longest_streak = _counter('longest_nonfinite_streak')

    def any_rank(self, flag):
        """A local bool -> True on every rank if it is True on any (a no-op on one device)."""
        if not self.is_distributed:
            return flag
        return self.allreduce(ops.cast(flag, ms.float32)) > 0

    def gradients_overflow(self, status, grads):
        """Whether any rank's gradients overflowed (already agreed over the ranks)."""
        if self.ieee_overflow:  # CPU: IEEE float16, overflow is inf/NaN
            finite = ops.stack([ops.isfinite(g).all() for g in grads]).all()
            return self.any_rank(ops.logical_not(finite))
        return self.get_overflow_status(status, grads)  # Ascend float-status registers / GPU, all-reduced

    def construct(self, *inputs):
        loss = self.network(*inputs)
        scale = self.scale_sense
        sens = ops.ones_like(loss) * ops.cast(scale, ops.dtype(loss))
        status, sens = self.start_overflow_check(loss, sens)  # clears the Ascend float status after the forward
        grads = self.grad(self.network, self.weights)(*inputs, sens)
        grads = self.hyper_map(ops.partial(_unscale, scale), grads)
        grads = self.grad_reducer(grads)
        loss_bad = self.any_rank(ops.logical_not(ops.isfinite(loss)))
        nonfinite = ops.logical_or(self.gradients_overflow(status, grads), loss_bad)
        overflow = self.process_loss_scale(nonfinite)  # a dynamic scale is lowered on overflow
        grad_norm = ops.sqrt(ops.stack([ops.square(ops.cast(g, ms.float32)).sum() for g in grads]).sum())
        if self.clip_grad_norm > 0:
            grads = ops.clip_by_global_norm(grads, self.clip_grad_norm)
        if not overflow:
            loss = ops.depend(loss, self.optimizer(grads))
        loss = ops.depend(loss, self.count(loss, nonfinite))
        return loss, nonfinite, scale, grad_norm

    def count(self, loss, nonfinite):
        good = ops.logical_not(nonfinite)
        streak = ops.select(nonfinite, self.streak + 1, ops.zeros_like(self.streak))
        out = ops.assign_add(self.loss_sum, ops.select(good, ops.cast(loss, ms.float32), ops.zeros_like(self.loss_sum)))
        out = ops.depend(out, ops.assign_add(self.updated_steps, ops.cast(good, ms.int32)))
        out = ops.depend(out, ops.assign_add(self.skipped_steps, ops.cast(nonfinite, ms.int32)))
        out = ops.depend(out, ops.assign(self.streak, streak))
        return ops.depend(out, ops.assign(self.longest_streak, ops.maximum(self.longest_streak, streak)))

    def stats(self):
        """Read the counters (a host sync) and restart the loss window: (mean loss of the updated steps since the
        last call, number of them, total skipped steps, longest run of consecutive skipped steps)."""
        loss_sum, updated = float(self.loss_sum.asnumpy()), int(self.updated_steps.asnumpy())
        self.loss_sum.set_data(ms.Tensor(0, ms.float32))
        self.updated_steps.set_data(ms.Tensor(0, ms.int32))
        mean = loss_sum / updated if updated else float('nan')
        return mean, updated, int(self.skipped_steps.asnumpy()), int(self.longest_streak.asnumpy())


def create_train_step(net, optimizer, *, loss_fn=None, clip_grad_norm=20.0, amp_level='O0', loss_scale=1024.0,
                      dynamic_loss_scale=True):
    """Wrap `net` (clips -> logits) with cross-entropy, mixed precision and the update.

    amp_level O0 trains in float32 without loss scaling; O1-O3 cast to float16 (BatchNorm and the loss stay float32
    with O2) and scale the loss by `loss_scale`, adjusted on overflow when `dynamic_loss_scale`.
    """
    if amp_level != 'O0':
        net = ms.amp.auto_mixed_precision(net, amp_level)
    net_with_loss = nn.WithLossCell(net, loss_fn or nn.CrossEntropyLoss())
    if amp_level == 'O0':
        scale_sense = ms.Tensor(1.0, ms.float32)
    elif dynamic_loss_scale:
        scale_sense = nn.DynamicLossScaleUpdateCell(loss_scale_value=loss_scale, scale_factor=2, scale_window=1000)
    else:
        scale_sense = ms.Tensor(loss_scale, ms.float32)
    step = TrainStep(net_with_loss, optimizer, scale_sense, clip_grad_norm)
    step.set_train()
    return step
