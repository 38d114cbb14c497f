"""`mindspore.train.Callback`s around `Model.train`: progress and the non-finite stop, BN sync, checkpoints, validation.

At each epoch end they run in the order train.py lists them: BN statistics averaged over the ranks, the epoch
checkpoint saved (rank 0), then validation and the best checkpoint, so a failing validation cannot lose the epoch.
Steps are counted from the start of the run (`start_step` + MindSpore's step counter), so a resumed run logs the
same global steps; under dataset sinking MindSpore calls `on_train_step_end` once per sink (here: per epoch).
"""
import json
import logging
import math
import os
import time

from mindspore.train import Callback

logger = logging.getLogger(__name__)


class TrainingStopped(RuntimeError):
    """Training cannot go on (non-finite steps, a failed save or validation); every rank raises it together."""


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


def _args(run_context):
    return run_context.original_args()


class TrainMonitor(Callback):
    """Every `log_every` steps, at each epoch end and after each sink: mean loss, lr, clips/s, ETA, skipped steps.

    Reads the train step's in-graph counters only then (one host sync per line). Stops the run, on every rank at
    the same step, once `max_nonfinite_steps` consecutive steps had a non-finite loss or gradients: the decision
    is all-reduced inside the step, so all ranks read the same counters.
    """

    def __init__(self, train_step, lr_schedule, global_batch, steps_per_epoch, epochs, *, start_step=0,
                 log_every=20, max_nonfinite_steps=10, log=None):
        super().__init__()
        self.train_step, self.lr_schedule, self.global_batch = train_step, lr_schedule, global_batch
        self.steps_per_epoch, self.epochs, self.start_step = steps_per_epoch, epochs, start_step
        self.log_every, self.max_nonfinite = max(1, log_every), max_nonfinite_steps
        self.log = log or JsonLinesLog(None)
        self.last_step, self.tick, self.tick_step = start_step, None, None

    def on_train_epoch_begin(self, run_context):
        if self.tick is not None:  # rates and the ETA count training only, not validation and saving
            self.tick, self.tick_step = time.time(), self.last_step

    def on_train_step_end(self, run_context):
        args = _args(run_context)
        step = self.start_step + args.cur_step_num
        sunk = step - self.last_step > 1  # one call ran several steps (dataset sinking)
        self.last_step = step
        if not (sunk or step % self.log_every == 0 or step % self.steps_per_epoch == 0):
            return
        self.report(step, args.net_outputs)

    def report(self, step, outputs):
        loss, updated, skipped, longest = self.train_step.stats()
        now = time.time()
        epoch, in_epoch = (step - 1) // self.steps_per_epoch + 1, (step - 1) % self.steps_per_epoch + 1
        record = {'type': 'train', 'epoch': epoch, 'step': in_epoch, 'global_step': step,
                  'loss': loss if updated else None, 'lr': float(self.lr_schedule[step - 1]),
                  'loss_scale': float(outputs[2].asnumpy()), 'grad_norm': float(outputs[3].asnumpy()),
                  'skipped_steps': skipped, 'clips_per_s': None}
        eta = ''
        if self.tick is not None:  # the first report includes graph compilation: rates are timed from it
            rate = (step - self.tick_step) * self.global_batch / max(now - self.tick, 1e-9)
            record['clips_per_s'] = rate
            total = self.steps_per_epoch * self.epochs
            eta = f' {rate:.1f} clips/s ETA {format_duration((total - step) * self.global_batch / rate)}'
        self.tick, self.tick_step = now, step
        logger.info('epoch %d/%d step %d/%d loss %.4f lr %.6f grad_norm %.3f scale %g skipped %d%s', epoch,
                    self.epochs, in_epoch, self.steps_per_epoch, loss, record['lr'], record['grad_norm'],
                    record['loss_scale'], skipped, eta)
        self.log.write(record)
        if longest >= self.max_nonfinite:
            raise TrainingStopped(
                f"{longest} consecutive steps had a non-finite loss or gradients (by global step {step}; "
                f"max_nonfinite_steps is {self.max_nonfinite}); every rank stops. Lower base_lr or loss_scale, "
                "check the data, then continue from the last good checkpoint with --resume")


class BatchNormSync(Callback):
    """Data parallel: at each epoch end (before saving and validation) average the BN statistics over the ranks."""

    def __init__(self, net, group_size, average_fn):
        super().__init__()
        self.net, self.group_size, self.average_fn = net, group_size, average_fn

    def on_train_epoch_end(self, run_context):
        self.average_fn(self.net, self.group_size)


class CheckpointSaver(Callback):
    """After every epoch: rank 0 saves the training state; all ranks learn whether it worked (`agree`)."""

    def __init__(self, manager, train_step, steps_per_epoch, agree=None):
        super().__init__()
        self.manager, self.train_step, self.steps_per_epoch = manager, train_step, steps_per_epoch
        self.agree = agree or (lambda failed: failed)
        self.epoch_start = time.time()

    def on_train_epoch_begin(self, run_context):
        self.epoch_start = time.time()

    def on_train_epoch_end(self, run_context):
        epoch = _args(run_context).cur_epoch_num
        error = None
        if self.manager is not None:
            try:
                path = self.manager.save(self.train_step, epoch, epoch * self.steps_per_epoch)
                logger.info('epoch %d: %.1f s; saved %s', epoch, time.time() - self.epoch_start, path)
            except OSError as err:
                error = err
                logger.error('epoch %d: saving the checkpoint failed: %s', epoch, err)
        if self.agree(error is not None):
            raise TrainingStopped(f"saving the checkpoint of epoch {epoch} failed on rank 0"
                                  + (f": {error}" if error else '') + "; every rank stops")


class Validator(Callback):
    """Every `eval_every` epochs and after the last: whole-set metrics (all ranks take part); keeps the best.

    Runs after the epoch checkpoint is saved. A failed validation stops every rank (the evaluation agrees on
    failures) and names the checkpoint to resume from; a failed save of the best checkpoint is reported and
    training goes on (the epoch checkpoint is safe, the previous best stays).
    """

    def __init__(self, evaluate_fn, eval_every, epochs, steps_per_epoch, log, manager=None, net=None):
        super().__init__()
        self.evaluate_fn, self.eval_every, self.epochs, self.log = evaluate_fn, eval_every, epochs, log
        self.steps_per_epoch = steps_per_epoch
        self.manager, self.net = manager, net
        self.history = []

    def on_train_epoch_end(self, run_context):
        epoch = _args(run_context).cur_epoch_num
        if self.eval_every <= 0 or (epoch % self.eval_every and epoch != self.epochs):
            return
        start = time.time()
        try:
            metrics = self.evaluate_fn()
        except Exception as err:  # noqa: BLE001  (any data or device error: report it with the way back)
            raise TrainingStopped(f"validation after epoch {epoch} failed: {err}. The checkpoint of epoch {epoch} "
                                  "was saved before it: fix the validation data and continue with --resume last"
                                  ) from err
        self.history.append((epoch, metrics))
        logger.info('epoch %d validation: top1 %.2f top5 %.2f mean class %.2f (%d videos, %.1f s)', epoch,
                    metrics['top1'], metrics['top5'], metrics['mean_class_acc'], metrics['num_videos'],
                    time.time() - start)
        self.log.write({'type': 'val', 'epoch': epoch, 'global_step': epoch * self.steps_per_epoch, **metrics})
        if self.manager is None:
            return
        try:
            if self.manager.save_best(self.net, epoch, metrics):
                logger.info('epoch %d: new best top1 %.2f saved', epoch, metrics['top1'])
        except OSError as err:
            logger.error('epoch %d: saving the best checkpoint failed (%s); the previous best is kept and '
                         'training goes on', epoch, err)


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
    train = [r for r in records if r['type'] == 'train' and r['loss'] is not None and math.isfinite(r['loss'])]
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
