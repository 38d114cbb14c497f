"""Evaluate a checkpoint on the whole validation list (each video exactly once, also when distributed).

    python eval.py --ckpt tsm_r50_sthv2.ckpt --device_target CPU --data_root D --val_list V            # 1 x 224
    python eval.py ... --num_crops 3 --crop_size 256 --scale_size 256                                    # 3 crops
    python eval.py ... --num_clips 2 --num_crops 3 --crop_size 256 --scale_size 256 --out results.json  # 2 x 3
    python eval.py ... --eval_protocol zoo_r17      # as model zoo r1.7 measured the Hub checkpoint's 58.0 / 85.0

Reports top-1, top-5 and mean class accuracy (views' logits averaged). Accepts the Hub `.ckpt`, a converted or
official `.pth`, and our training checkpoints. `--out` writes the metrics and every video's top-5 as JSON.
"""
import json
import logging
import os

import mindspore as ms

from src.checkpoint import load_checkpoint
from src.config import dataset_kwargs, get_config, model_kwargs, network_settings
from src.data import create_dataset, read_class_names
from src.errors import run_entry
from src.evaluate import MultiViewClassifier, evaluate
from src.files import write_text_atomically
from src.metrics import top_predictions
from src.models import create_model
from src.models.fold_bn import fold_batchnorm
from src.runtime import apply_runtime_defaults, init_context
from src.train_utils import (all_reduce_sum, device_id_from_env, init_parallel, leave_parallel, resolve_amp_level,
                             setup_logging)

logger = logging.getLogger('eval')


def protocol_name(config):
    if config.eval_protocol == 'zoo_r17':
        return (f"zoo_r17: r1.7 frame indices, frames squashed to {config.scale_size} x {config.scale_size}, 1 clip x "
                f"centre crop of {config.crop_size}, {config.num_segments} frames, videos of < 3 frames left out")
    return (f"{config.num_clips} clip(s) x {config.num_crops} crop(s) of {config.crop_size}, short side "
            f"{config.scale_size}, {config.num_segments} frames, {config.sampling} sampling")


def write_results(path, config, metrics, records, scores, class_names):
    """Metrics plus, per video, its path, label and top-5 (class, logit[, name]) - JSON, written atomically."""
    videos = []
    for record, top in zip(records, top_predictions(scores)):
        entry = {'video': record.path, 'label': record.label,
                 'top5': [{'class': c, 'logit': s} for c, s in top]}
        if class_names:
            for item in entry['top5']:
                item['name'] = class_names[item['class']]
        videos.append(entry)
    result = {'checkpoint': config.ckpt, 'arch': config.arch, 'protocol': protocol_name(config), **metrics,
              'videos': videos}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_text_atomically(path, json.dumps(result, indent=1))


def main():
    apply_runtime_defaults()  # first: before any MindSpore operation, whatever the import order
    config = get_config(description=__doc__)
    if not (config.ckpt and config.val_list and config.data_root):
        raise SystemExit('eval.py: --ckpt, --data_root and --val_list are required')
    init_context(config.device_target, config.mode, device_id_from_env())
    rank, group_size = init_parallel()
    setup_logging(rank, group_size)
    class_names = read_class_names(config.class_names, config.num_classes) if config.class_names else None
    dataset = create_dataset(config.val_list, config.data_root, False, config.batch_size, config.num_segments,
                             num_clips=config.num_clips, num_crops=config.num_crops, num_shards=group_size,
                             shard_id=rank, eval_protocol=config.eval_protocol, **dataset_kwargs(config))
    records = dataset.records
    net = create_model(config.arch, **model_kwargs(config))
    load_checkpoint(net, config.ckpt, settings=network_settings(config))
    fold_batchnorm(net)  # exact inference with fewer kernels (src/models/fold_bn.py)
    amp_level = resolve_amp_level(config.amp_level, config.device_target)
    if amp_level != 'O0':
        net = ms.amp.auto_mixed_precision(net, amp_level)
    metrics, (scores, _, seen) = evaluate(MultiViewClassifier(net), dataset, len(records), config.num_classes,
                                          all_reduce_sum if group_size > 1 else None, config.skip_bad_samples)
    skipped = f" ({metrics['num_missing']} unreadable, skipped)" if metrics['num_missing'] else ''
    logger.info('%s on %s (%s): top1 %.2f top5 %.2f mean class %.2f over %d videos%s', config.ckpt,
                config.val_list, protocol_name(config), metrics['top1'], metrics['top5'], metrics['mean_class_acc'],
                metrics['num_videos'], skipped)
    if config.out and rank == 0:
        write_results(config.out, config, metrics, [r for r, s in zip(records, seen) if s], scores[seen],
                      class_names)
        logger.info('wrote %s', config.out)
    leave_parallel(group_size)


if __name__ == '__main__':
    run_entry(main)
