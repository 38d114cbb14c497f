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

import numpy as np

from src.checkpoint import CheckpointError, save_params

logger = logging.getLogger(__name__)

# Hyper-parameters rebuilt from the config on resume, never restored from a file.
NOT_SAVED = ('learning_rate', 'momentum')
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


def save_training_state(train_step, path, epoch, step):
    """Write the state after `epoch` epochs (`step` optimizer steps) to `path`, atomically."""
    params = {name: p.asnumpy() for name, p in training_state(train_step).items()}
    params.update(epoch_num=np.array(epoch, np.int32), step_num=np.array(step, np.int32))
    return save_params(params, path)


def restore_training_state(train_step, path):
    """Load a training checkpoint into `train_step`; returns (epoch, step) it was saved at."""
    import mindspore as ms

    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such checkpoint to resume from")
    saved = ms.load_checkpoint(path)
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
    """Epoch checkpoints `<directory>/<prefix>-e<epoch>.ckpt` (the last `keep` kept) and the best by top-1."""

    def __init__(self, directory, prefix, keep=5):
        self.directory, self.prefix, self.keep = directory, prefix, keep
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
                                   epoch, step)
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
        path = save_params(net, os.path.join(self.directory, f'{self.prefix}-best.ckpt'))
        tmp = self.best_json + '.tmp'
        with open(tmp, 'w') as f:
            json.dump({'epoch': epoch, 'checkpoint': os.path.basename(path), **metrics}, f, indent=1)
        os.replace(tmp, self.best_json)
        return True
