"""Training helpers: optimizer groups, learning-rate schedule, the train step, checkpoints, callbacks, the loop."""
from src.train_utils.callbacks import (BatchNormSync, CheckpointSaver, JsonLinesLog, NonFiniteLossError,
                                       ProgressLogger, Validator, save_curves, setup_logging)
from src.train_utils.checkpointing import (CheckpointManager, restore_training_state, save_training_state,
                                           weights_digest)
from src.train_utils.loop import train_loop
from src.train_utils.lr_schedule import create_lr_schedule, scale_lr
from src.train_utils.optim import create_optimizer, create_param_groups, freeze_bn_except_first
from src.train_utils.parallel import (all_reduce_sum, average_bn_statistics, device_id_from_env, init_parallel,
                                      launched_distributed)
from src.train_utils.train_step import TrainStep, create_train_step, resolve_amp_level

__all__ = ['BatchNormSync', 'CheckpointManager', 'CheckpointSaver', 'JsonLinesLog', 'NonFiniteLossError',
           'ProgressLogger', 'TrainStep', 'Validator', 'all_reduce_sum', 'average_bn_statistics',
           'create_lr_schedule', 'create_optimizer', 'create_param_groups', 'create_train_step',
           'device_id_from_env', 'freeze_bn_except_first', 'init_parallel', 'launched_distributed',
           'resolve_amp_level', 'restore_training_state', 'save_curves', 'save_training_state', 'scale_lr',
           'setup_logging', 'train_loop', 'weights_digest']
