"""Training helpers: optimizer groups, learning-rate schedule, the train step, checkpoints, callbacks, launch setup."""
from src.train_utils.callbacks import (BatchNormSync, CheckpointSaver, JsonLinesLog, TrainingStopped, TrainMonitor,
                                       Validator, save_curves, setup_logging)
from src.train_utils.checkpointing import (CheckpointManager, OutputDirError, prepare_output_dir,
                                           remove_stale_temporaries, restore_training_state, save_training_state,
                                           truncate_log, weights_digest)
from src.train_utils.lr_schedule import create_lr_schedule, scale_lr
from src.train_utils.optim import create_optimizer, create_param_groups, freeze_bn_except_first
from src.train_utils.parallel import (all_reduce_sum, average_bn_statistics, device_id_from_env, enter_rank_workdir,
                                      init_parallel, launched_distributed, leave_parallel)
from src.train_utils.train_step import TrainStep, create_train_step, resolve_amp_level

__all__ = ['BatchNormSync', 'CheckpointManager', 'CheckpointSaver', 'JsonLinesLog', 'OutputDirError', 'TrainMonitor',
           'TrainStep', 'TrainingStopped', 'Validator', 'all_reduce_sum', 'average_bn_statistics',
           'create_lr_schedule', 'create_optimizer', 'create_param_groups', 'create_train_step',
           'device_id_from_env', 'enter_rank_workdir', 'freeze_bn_except_first', 'init_parallel',
           'launched_distributed', 'leave_parallel', 'prepare_output_dir', 'remove_stale_temporaries',
           'resolve_amp_level', 'restore_training_state', 'save_curves', 'save_training_state', 'scale_lr',
           'setup_logging', 'truncate_log', 'weights_digest']
