"""Train TSN / TSM on a video list (one process per device; data parallel when started by msrun/mpirun/rank table).

    python train.py --config_path configs/demo_tsm.yaml --data_root D --train_list T --val_list V
    python train.py --device_target Ascend --data_root ... --pretrained resnet50.pth   # the SSv2 recipe

Writes to output_dir: config.yaml, train_log.jsonl, checkpoints/<arch>-e<epoch>.ckpt (the last keep_checkpoints,
with optimizer state, for --resume), checkpoints/<arch>-best.ckpt(+.json) by validation top-1, curves.png.
An output_dir holding another run is refused unless --resume or --overwrite (see prepare_output_dir).
"""
import logging
import os
import sys

import mindspore as ms
import mindspore.dataset as ds
import numpy as np
from mindspore.train import Model

from src.checkpoint import load_checkpoint
from src.config import (checkpoint_metadata, dataset_kwargs, get_config, model_kwargs, save_config,
                        with_absolute_paths)
from src.data import create_dataset
from src.errors import run_entry
from src.evaluate import MultiViewClassifier, evaluate
from src.models import create_model
from src.runtime import apply_runtime_defaults, init_context
from src.train_utils import (BatchNormSync, CheckpointManager, CheckpointSaver, JsonLinesLog, OutputDirError,
                             TrainingStopped, TrainMonitor, Validator, all_reduce_sum, average_bn_statistics,
                             create_lr_schedule, create_optimizer, create_train_step, device_id_from_env,
                             enter_rank_workdir, freeze_bn_except_first, init_parallel, leave_parallel,
                             prepare_output_dir, resolve_amp_level, restore_training_state, save_curves, scale_lr,
                             setup_logging, truncate_log, weights_digest)

logger = logging.getLogger('train')


def create_validation(config, net, rank, group_size):
    """A function returning whole-set validation metrics (all ranks take part), or None without val_list."""
    if not config.val_list or config.eval_every <= 0:
        return None
    val_set = create_dataset(config.val_list, config.data_root, False, config.batch_size, config.num_segments,
                             num_clips=config.num_clips, num_crops=config.num_crops,
                             num_shards=group_size, shard_id=rank, **dataset_kwargs(config))
    num_videos = len(val_set.records)
    classifier = MultiViewClassifier(net)
    reduce = all_reduce_sum if group_size > 1 else None
    return lambda: evaluate(classifier, val_set, num_videos, config.num_classes, reduce,
                            config.skip_bad_samples)[0]


def resume_epoch(train_step, resume, manager):
    """Restore `--resume` (a path, or 'last'); returns the number of epochs already done."""
    if not resume:
        return 0
    path = manager.last() if resume == 'last' else resume
    if path is None:
        raise SystemExit(f"--resume last: no checkpoint in {manager.directory}")
    epoch, step = restore_training_state(train_step, path)
    logger.info('resumed from %s: %d epochs (%d steps) done', path, epoch, step)
    return epoch


def create_callbacks(config, train_step, net, lr, steps_per_epoch, start_epoch, log, manager, rank, group_size):
    """Epoch-end order: BN statistics averaged, epoch checkpoint saved, then validation (which may fail)."""
    agree = (lambda failed: all_reduce_sum(np.array([failed], np.float32))[0] > 0) if group_size > 1 else None
    callbacks = [TrainMonitor(train_step, lr, config.batch_size * group_size, steps_per_epoch, config.epochs,
                              start_step=start_epoch * steps_per_epoch, log_every=config.log_every,
                              max_nonfinite_steps=config.max_nonfinite_steps, log=log)]
    if group_size > 1:
        callbacks.append(BatchNormSync(net, group_size, average_bn_statistics))
    callbacks.append(CheckpointSaver(manager if rank == 0 else None, train_step, steps_per_epoch, agree))
    validate = create_validation(config, net, rank, group_size)
    if validate is not None:
        callbacks.append(Validator(validate, config.eval_every, config.epochs, steps_per_epoch, log,
                                   manager if rank == 0 else None, net))
    return callbacks


def main():
    apply_runtime_defaults()  # first: before any MindSpore operation, whatever the import order
    config = with_absolute_paths(get_config(description=__doc__))
    if not (config.train_list and config.data_root):
        raise SystemExit('train.py: --data_root and --train_list are required (see configs/ and README)')
    enter_rank_workdir()
    init_context(config.device_target, config.mode, device_id_from_env())
    rank, group_size = init_parallel()
    setup_logging(rank, group_size)
    try:  # every rank checks before the first collective; only rank 0 writes into output_dir
        prepare_output_dir(config.output_dir, resume=config.resume, overwrite=config.overwrite, writer=rank == 0)
    except OutputDirError as err:
        raise SystemExit(f'train.py: {err}') from None
    ms.set_seed(config.seed)  # identical initial weights on every rank
    ds.config.set_seed(config.seed)  # one shuffle order, split across the shards
    if rank == 0:
        save_config(config, config.output_dir)

    train_set = create_dataset(config.train_list, config.data_root, True, config.batch_size, config.num_segments,
                               flip=config.flip, flip_pairs=config.flip_pairs, num_shards=group_size,
                               shard_id=rank, seed=config.seed, **dataset_kwargs(config))
    net = create_model(config.arch, **model_kwargs(config))
    if config.pretrained:
        load_checkpoint(net, config.pretrained, init_only=True)
    if config.partial_bn:
        logger.info('partial BN: froze %d BatchNorm layers', len(freeze_bn_except_first(net)))
    steps_per_epoch = train_set.get_dataset_size()
    lr = create_lr_schedule(scale_lr(config.base_lr, config.batch_size * group_size, config.lr_batch_size),
                            steps_per_epoch, config.epochs, schedule=config.lr_schedule, lr_steps=config.lr_steps,
                            lr_decay=config.lr_decay, warmup_epochs=config.warmup_epochs)
    optimizer = create_optimizer(net, lr, momentum=config.momentum, weight_decay=config.weight_decay,
                                 from_imagenet=bool(config.pretrained))
    train_step = create_train_step(net, optimizer, clip_grad_norm=config.clip_grad_norm,
                                   amp_level=resolve_amp_level(config.amp_level, config.device_target),
                                   loss_scale=config.loss_scale, dynamic_loss_scale=config.dynamic_loss_scale)
    manager = CheckpointManager(os.path.join(config.output_dir, 'checkpoints'), config.arch, config.keep_checkpoints,
                                checkpoint_metadata(config))
    start_epoch = resume_epoch(train_step, config.resume, manager)
    log = JsonLinesLog(os.path.join(config.output_dir, 'train_log.jsonl') if rank == 0 else None)
    if log.path and start_epoch:
        truncate_log(log.path, start_epoch * steps_per_epoch)  # lines the interrupted run wrote after its checkpoint

    callbacks = create_callbacks(config, train_step, net, lr, steps_per_epoch, start_epoch, log, manager, rank,
                                 group_size)
    logger.info('%s-R%d, %d segments: %d epochs x %d steps of %d clips x %d devices, from epoch %d%s',
                config.arch, config.depth, config.num_segments, config.epochs, steps_per_epoch, config.batch_size,
                group_size, start_epoch + 1,  # MindSpore never sinks on CPU (train/model.py)
                ', dataset sinking' if config.dataset_sink_mode and config.device_target != 'CPU' else '')
    try:
        if start_epoch < config.epochs:
            Model(train_step).train(config.epochs, train_set, callbacks=callbacks, initial_epoch=start_epoch,
                                    dataset_sink_mode=config.dataset_sink_mode)
    except TrainingStopped as err:
        logger.error('%s', err)
        sys.exit(1)
    logger.info('done; weights digest %s', weights_digest(net))  # identical on every rank
    if rank == 0 and log.path and os.path.isfile(log.path):
        save_curves(log.path, os.path.join(config.output_dir, 'curves.png'))
    leave_parallel(group_size)


if __name__ == '__main__':
    run_entry(main)
