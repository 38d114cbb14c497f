"""What happens around the training steps: progress lines, the JSON-lines log, NaN stop, validation, checkpoints.

Each callback implements any of `on_step_end(ctx)`, `on_epoch_end(ctx)`, `on_train_end(ctx)`; `ctx` is the
`TrainContext` of `train_loop` (epoch and step counters, the step outputs, the epoch's mean loss).
"""
import json
import logging
import math
import os
import time

import numpy as np

logger = logging.getLogger(__name__)


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; training stops."""


def format_duration(seconds):
    seconds = int(round(seconds))
    return f'{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}'


class JsonLinesLog:
    """Append one JSON object per line (rank 0 only; other ranks pass path=None and write nothing)."""

    def __init__(self, path):
        self.path = path
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def write(self, record):
        if self.path:
            with open(self.path, 'a') as f:
                f.write(json.dumps(record) + '\n')


class ProgressLogger:
    """Every `log_every` steps: epoch/step, mean loss, lr, clips/s (all devices) and the ETA; stops on NaN/inf."""

    def __init__(self, lr_schedule, global_batch, total_steps, log_every, log):
        self.lr_schedule, self.global_batch = lr_schedule, global_batch
        self.total_steps, self.log_every, self.log = total_steps, max(1, log_every), log
        self.losses, self.tick, self.tick_step = [], None, None

    def on_step_end(self, ctx):
        loss = float(ctx.outputs[0].asnumpy())
        if not math.isfinite(loss):
            raise NonFiniteLossError(f"loss is {loss} at epoch {ctx.epoch + 1}, step {ctx.step + 1} of "
                                     f"{ctx.steps_per_epoch} (global step {ctx.global_step}); stopping. Lower "
                                     "base_lr, check the data, or resume from the last checkpoint")
        self.losses.append(loss)
        ctx.epoch_losses.append(loss)
        if self.tick is None:  # the first step includes graph compilation: time from its end
            self.tick, self.tick_step = time.time(), ctx.global_step
            return
        if ctx.global_step % self.log_every and ctx.step + 1 != ctx.steps_per_epoch:
            return
        elapsed = time.time() - self.tick
        steps = ctx.global_step - self.tick_step
        rate = steps * self.global_batch / elapsed if elapsed > 0 else 0.0
        eta = (self.total_steps - ctx.global_step) * elapsed / max(steps, 1)
        record = {'type': 'train', 'epoch': ctx.epoch + 1, 'step': ctx.step + 1, 'global_step': ctx.global_step,
                  'loss': float(np.mean(self.losses)), 'lr': float(self.lr_schedule[ctx.global_step - 1]),
                  'grad_norm': float(ctx.outputs[3].asnumpy()), 'clips_per_s': rate}
        logger.info('epoch %d/%d step %d/%d loss %.4f lr %.6f grad_norm %.3f %.1f clips/s ETA %s',
                    ctx.epoch + 1, ctx.epochs, ctx.step + 1, ctx.steps_per_epoch, record['loss'], record['lr'],
                    record['grad_norm'], rate, format_duration(eta))
        self.log.write(record)
        self.losses, self.tick, self.tick_step = [], time.time(), ctx.global_step


class BatchNormSync:
    """Data parallel: at each epoch end (before validation and saving) average the BN statistics over the ranks."""

    def __init__(self, net, group_size, average_fn):
        self.net, self.group_size, self.average_fn = net, group_size, average_fn

    def on_epoch_end(self, ctx):
        self.average_fn(self.net, self.group_size)


class Validator:
    """Every `eval_every` epochs and after the last: whole-set metrics (all ranks take part); keeps the best."""

    def __init__(self, evaluate_fn, eval_every, log, manager=None, net=None):
        self.evaluate_fn, self.eval_every, self.log = evaluate_fn, eval_every, log
        self.manager, self.net = manager, net
        self.history = []

    def on_epoch_end(self, ctx):
        epoch = ctx.epoch + 1
        if self.eval_every <= 0 or (epoch % self.eval_every and epoch != ctx.epochs):
            return
        start = time.time()
        metrics = self.evaluate_fn()
        ctx.net.set_train(True)
        self.history.append((epoch, metrics))
        logger.info('epoch %d validation: top1 %.2f top5 %.2f mean class %.2f (%d videos, %.1f s)', epoch,
                    metrics['top1'], metrics['top5'], metrics['mean_class_acc'], metrics['num_videos'],
                    time.time() - start)
        self.log.write({'type': 'val', 'epoch': epoch, 'global_step': ctx.global_step, **metrics})
        if self.manager is not None and self.manager.save_best(self.net, epoch, metrics):
            logger.info('epoch %d: new best top1 %.2f saved', epoch, metrics['top1'])


class CheckpointSaver:
    """After every epoch (rank 0): the training state, so a killed run loses at most the current epoch."""

    def __init__(self, manager):
        self.manager = manager

    def on_epoch_end(self, ctx):
        path = self.manager.save(ctx.train_step, ctx.epoch + 1, ctx.global_step)
        logger.info('epoch %d/%d: mean loss %.4f, %.1f s; saved %s', ctx.epoch + 1, ctx.epochs,
                    float(np.mean(ctx.epoch_losses)) if ctx.epoch_losses else float('nan'),
                    time.time() - ctx.epoch_start, path)


def save_curves(log_path, png_path):
    """Loss and validation accuracy curves from a JSON-lines log; returns the PNG path, or None without matplotlib."""
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        logger.info('matplotlib is not installed: no training curves (pip install matplotlib to get %s)', png_path)
        return None
    with open(log_path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    train = [r for r in records if r['type'] == 'train']
    val = [r for r in records if r['type'] == 'val']
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot([r['global_step'] for r in train], [r['loss'] for r in train])
    ax_loss.set(xlabel='step', ylabel='training loss')
    for key in ('top1', 'top5', 'mean_class_acc'):
        ax_acc.plot([r['epoch'] for r in val], [r[key] for r in val], marker='o', label=key)
    ax_acc.set(xlabel='epoch', ylabel='validation accuracy (%)')
    ax_acc.legend()
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)
    return png_path


def setup_logging(rank=0, group_size=1):
    """INFO lines with time (and the rank when distributed) on stderr, one stream per process."""
    tag = f' [rank {rank}/{group_size}]' if group_size > 1 else ''
    logging.basicConfig(level=logging.INFO, format=f'%(asctime)s{tag} %(levelname)s %(message)s', force=True)
