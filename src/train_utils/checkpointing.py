"""Training checkpoints: the network with its optimizer state, written atomically; keep the last k and the best.

A training checkpoint `<prefix>-e<epoch>.ckpt` holds the network parameters (so eval.py and export.py load it like
any other), the SGD moments, the global step, the loss scale, and `epoch_num`/`step_num`; `load_checkpoint`
ignores the optimizer entries. The best one by validation top-1 is `<prefix>-best.ckpt` (network only) with
`<prefix>-best.json` naming its epoch and metrics.
"""
import hashlib
import json
import logging
import os
import re
import time

import numpy as np

from src.checkpoint import CheckpointError, load_mindspore_checkpoint, save_params
from src.files import write_text_atomically
from src.train_utils.train_step import STATS_PREFIX

logger = logging.getLogger(__name__)

# Hyper-parameters rebuilt from the config on resume and the progress counters of one run, never saved.
NOT_SAVED = ('learning_rate', 'momentum', STATS_PREFIX)
COUNTERS = ('epoch_num', 'step_num')


def training_state(train_step):
    """name -> Parameter of everything a resumed run needs: weights, BN statistics, moments, step, loss scale."""
    return {p.name: p for _, p in train_step.parameters_and_names() if not p.name.startswith(NOT_SAVED)}


def weights_digest(net):
    """SHA-1 of every parameter (names and values): equal on all ranks of a healthy data-parallel run."""
    digest = hashlib.sha1()
    for p in sorted(net.get_parameters(), key=lambda p: p.name):
        digest.update(p.name.encode())
        digest.update(np.ascontiguousarray(p.asnumpy()).tobytes())
    return digest.hexdigest()


def save_training_state(train_step, path, epoch, step, metadata=None):
    """Write the state after `epoch` epochs (`step` optimizer steps) to `path`, atomically (with `metadata`)."""
    params = {name: p.asnumpy() for name, p in training_state(train_step).items()}
    params.update(epoch_num=np.array(epoch, np.int32), step_num=np.array(step, np.int32))
    return save_params(params, path, metadata)


def restore_training_state(train_step, path):
    """Load a training checkpoint into `train_step`; returns (epoch, step) it was saved at."""
    import mindspore as ms

    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such checkpoint to resume from")
    saved = load_mindspore_checkpoint(path)  # CheckpointError naming the file if empty, truncated or corrupt
    missing_counters = [c for c in COUNTERS if c not in saved]
    if missing_counters:
        raise CheckpointError(f"{path}: not a training checkpoint (no {missing_counters}); to start from weights "
                              "only, use --pretrained")
    state = training_state(train_step)
    missing = sorted(set(state) - set(saved))
    if missing:
        raise CheckpointError(f"{path}: cannot resume this run, {len(missing)} entries missing: {missing[:20]}")
    for name, param in state.items():
        if tuple(saved[name].shape) != tuple(param.shape):
            raise CheckpointError(f"{path}: {name} has shape {tuple(saved[name].shape)}, the run {param.shape}")
        param.set_data(ms.Tensor(saved[name].asnumpy(), param.dtype))
    return int(saved['epoch_num'].asnumpy()), int(saved['step_num'].asnumpy())


class CheckpointManager:
    """Epoch checkpoints `<directory>/<prefix>-e<epoch>.ckpt` (the last `keep` kept) and the best by top-1.

    `metadata` ({'arch': ..., ...}, see src.config.checkpoint_metadata) is recorded in every checkpoint written.
    """

    def __init__(self, directory, prefix, keep=5, metadata=None):
        self.directory, self.prefix, self.keep, self.metadata = directory, prefix, keep, metadata
        self.pattern = re.compile(rf'^{re.escape(prefix)}-e(\d+)\.ckpt$')
        os.makedirs(directory, exist_ok=True)

    def epoch_checkpoints(self):
        """(epoch, path) of the epoch checkpoints present, oldest first."""
        found = [(int(m.group(1)), os.path.join(self.directory, name))
                 for name in os.listdir(self.directory) if (m := self.pattern.match(name))]
        return sorted(found)

    def last(self):
        """Path of the newest epoch checkpoint, or None."""
        found = self.epoch_checkpoints()
        return found[-1][1] if found else None

    def save(self, train_step, epoch, step):
        path = save_training_state(train_step, os.path.join(self.directory, f'{self.prefix}-e{epoch}.ckpt'),
                                   epoch, step, self.metadata)
        for _, old in self.epoch_checkpoints()[:-self.keep] if self.keep > 0 else []:
            os.remove(old)
        return path

    @property
    def best_json(self):
        return os.path.join(self.directory, f'{self.prefix}-best.json')

    def best_top1(self):
        if not os.path.isfile(self.best_json):
            return None
        with open(self.best_json) as f:
            return json.load(f)['top1']

    def save_best(self, net, epoch, metrics):
        """Keep `net` as the best checkpoint if its top-1 beats the previous best; returns whether it did."""
        best = self.best_top1()
        if best is not None and metrics['top1'] <= best:
            return False
        path = save_params(net, os.path.join(self.directory, f'{self.prefix}-best.ckpt'), self.metadata)
        write_text_atomically(self.best_json, json.dumps({'epoch': epoch, 'checkpoint': os.path.basename(path),
                                                          **metrics}, indent=1))
        return True


class OutputDirError(RuntimeError):
    """output_dir holds another run that this one would mix with or destroy."""


RUN_FILES = ('train_log.jsonl', 'config.yaml', 'curves.png')


def _run_files(output_dir):
    """Files of an earlier run in output_dir: checkpoints and the training log (relative paths)."""
    ckpt_dir = os.path.join(output_dir, 'checkpoints')
    found = [os.path.join('checkpoints', n) for n in sorted(os.listdir(ckpt_dir))
             if n.endswith(('.ckpt', '.json')) and not n.startswith('.')] if os.path.isdir(ckpt_dir) else []
    return found + (['train_log.jsonl'] if os.path.isfile(os.path.join(output_dir, 'train_log.jsonl')) else [])


def remove_stale_temporaries(directory):
    """Delete the temporary files a killed save leaves behind (`.<name>.*.tmp.ckpt`, `*.tmp`); returns them."""
    if not os.path.isdir(directory):
        return []
    stale = [n for n in os.listdir(directory) if n.endswith(('.tmp.ckpt', '.tmp'))]
    for name in stale:
        os.remove(os.path.join(directory, name))
        logger.warning('removed %s, left by an interrupted save', os.path.join(directory, name))
    return stale


def prepare_output_dir(output_dir, *, resume='', overwrite=False, writer=True, now=None):
    """Make output_dir safe for a new run or a resumed one; returns where an earlier run was moved (or None).

    A directory holding another run's checkpoints or log is refused unless the run resumes (`resume`) or
    `overwrite` is set; with `overwrite` the earlier run's files are moved to `output_dir/previous/<time>/`,
    never deleted. Only the `writer` (global rank 0) moves or deletes anything; every rank takes the same
    decision. Stale temporary files of an interrupted save are removed.
    """
    earlier = _run_files(output_dir)
    if earlier and not resume and not overwrite:
        shown = ', '.join(earlier[:4]) + (f' and {len(earlier) - 4} more' if len(earlier) > 4 else '')
        raise OutputDirError(f"output_dir {output_dir} already holds a run ({shown}). Continue it with "
                             "--resume last, start afresh with --overwrite (its files are moved to "
                             f"{os.path.join(output_dir, 'previous')}/<time>/), or choose another --output_dir")
    if not writer:
        return None
    moved_to = None
    if earlier and overwrite and not resume:
        moved_to = os.path.join(output_dir, 'previous', time.strftime('%Y%m%d-%H%M%S', time.localtime(now)))
        os.makedirs(moved_to)
        for name in ['checkpoints', *RUN_FILES]:
            if os.path.exists(os.path.join(output_dir, name)):
                os.rename(os.path.join(output_dir, name), os.path.join(moved_to, name))
        logger.warning('--overwrite: the earlier run in %s was moved to %s', output_dir, moved_to)
    remove_stale_temporaries(os.path.join(output_dir, 'checkpoints'))
    return moved_to


def truncate_log(path, global_step):
    """Resuming at `global_step`: drop the log records of steps after it (written by the interrupted run)."""
    if not os.path.isfile(path):
        return 0
    with open(path) as f:
        lines = [line for line in f if line.strip()]
    kept = [line for line in lines if json.loads(line).get('global_step', 0) <= global_step]
    if len(kept) != len(lines):
        tmp = path + '.tmp'
        with open(tmp, 'w') as f:
            f.writelines(kept)
        os.replace(tmp, path)
    return len(lines) - len(kept)
