"""One training step: loss, (scaled) gradients, mean over devices, global-norm clipping, SGD update."""
import mindspore as ms
from mindspore import nn, ops

AMP_LEVELS = ('O0', 'O1', 'O2', 'O3')

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


class TrainStep(nn.TrainOneStepWithLossScaleCell):
    """`(clip, label) -> (loss, overflow, loss_scale, grad_norm)`; updates the weights unless a gradient overflowed.

    Gradients are unscaled, averaged over devices (data parallel), then clipped to `clip_grad_norm` (0: off); the
    reported norm is the one before clipping. A step whose gradients are not finite is skipped (and, with a dynamic
    loss scale, the scale is lowered); a non-finite loss is reported to the caller, which stops the run.
    """

    def __init__(self, net_with_loss, optimizer, scale_sense, clip_grad_norm=0.0):
        super().__init__(net_with_loss, optimizer, scale_sense)
        self.clip_grad_norm = float(clip_grad_norm)

    def construct(self, *inputs):
        loss = self.network(*inputs)
        scale = self.scale_sense
        sens = ops.ones_like(loss) * ops.cast(scale, ops.dtype(loss))
        grads = self.grad(self.network, self.weights)(*inputs, sens)
        grads = self.hyper_map(ops.partial(_unscale, scale), grads)
        grads = self.grad_reducer(grads)
        finite = ops.stack([ops.isfinite(g).all() for g in grads]).all()
        overflow = self.process_loss_scale(ops.logical_not(finite))
        grad_norm = ops.sqrt(ops.stack([ops.square(ops.cast(g, ms.float32)).sum() for g in grads]).sum())
        if self.clip_grad_norm > 0:
            grads = ops.clip_by_global_norm(grads, self.clip_grad_norm)
        if not overflow:
            loss = ops.depend(loss, self.optimizer(grads))
        return loss, overflow, scale, grad_norm


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
