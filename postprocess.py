"""Offline-inference accuracy: the C++ application's logits files + preprocess.py's labels -> top-1 / top-5.

    python postprocess.py --result_dir /runs/infer/logits --label_file /runs/infer/labels.json [--out acc.json]

Every clip listed in the labels file (preprocess.py's UTF-8 JSON) must have its `<result_dir>/<clip>.bin` (float32
logits, one row of num_classes); the metrics cover the whole list, computed as eval.py computes them
(src.metrics.compute_metrics).
Imports NumPy only (no MindSpore), so it runs on an inference host without the training framework.
"""
import argparse
import json
import logging
import os
import re
import sys

import numpy as np

from src.metrics import compute_metrics

logger = logging.getLogger('postprocess')


CLIP_NAME = re.compile(r'[A-Za-z0-9_.-]+')  # a file name in result_dir, never a path


def read_labels(path):
    """([(clip name, label, video)], num_classes) of preprocess.py's labels.json; video paths are kept exactly."""
    if not os.path.isfile(path):
        raise ValueError(f'label file not found: {path}')
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f'{path}: not the labels.json of preprocess.py ({err})') from None
    if not isinstance(data, dict) or not isinstance(data.get('clips'), list):
        raise ValueError(f'{path}: expected {{"num_classes": N, "clips": [...]}} as preprocess.py writes it')
    num_classes = data.get('num_classes')
    if num_classes is not None and (type(num_classes) is not int or num_classes < 1):
        raise ValueError(f'{path}: num_classes must be a positive integer, got {num_classes!r}')
    entries = []
    for number, entry in enumerate(data['clips']):
        if not (isinstance(entry, dict) and isinstance(entry.get('clip'), str) and CLIP_NAME.fullmatch(entry['clip'])
                and type(entry.get('label')) is int and entry['label'] >= 0 and isinstance(entry.get('video'), str)):
            raise ValueError(f'{path}: clip {number}: expected {{"clip": "clip_<row>", "label": <int >= 0>, '
                             f'"video": "<path>"}}, got {entry!r}')
        entries.append((entry['clip'], entry['label'], entry['video']))
    if not entries:
        raise ValueError(f'{path} lists no clips')
    return entries, num_classes


def read_logits(result_dir, entries, num_classes=None):
    """(num_clips, num_classes) float32 logits in the order of `entries`; every file must hold one row."""
    rows = []
    for name, _, video in entries:
        path = os.path.join(result_dir, name + '.bin')
        if not os.path.isfile(path):
            raise ValueError(f'missing logits file {path} (video {video!r}): did the inference step finish?')
        row = np.fromfile(path, np.float32)
        expected = num_classes or (rows[0].size if rows else None)
        if os.path.getsize(path) % 4 or row.size == 0 or (expected and row.size != expected):
            raise ValueError(f'{path} holds {os.path.getsize(path)} bytes; expected {expected or "some"} float32 '
                             f'logits (video {video!r})')
        rows.append(row)
    return np.stack(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--result_dir', required=True, help='the <clip>.bin logits of ascend310_infer')
    parser.add_argument('--label_file', required=True, help='labels.json of preprocess.py')
    parser.add_argument('--num_classes', type=int, default=None,
                        help="check every file has this many logits (default: the labels file's num_classes)")
    parser.add_argument('--out', default='', help='also write the metrics as JSON here')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
    try:
        entries, num_classes = read_labels(args.label_file)
        scores = read_logits(args.result_dir, entries, args.num_classes or num_classes)
    except ValueError as err:
        sys.exit(f'postprocess.py: {err}')
    labels = np.array([label for _, label, _ in entries])
    if labels.max() >= scores.shape[1]:
        sys.exit(f'postprocess.py: {args.label_file} has label {labels.max()} but the logits have '
                 f'{scores.shape[1]} classes')
    metrics = compute_metrics(scores, labels)
    logger.info('top1 %.2f top5 %.2f mean class %.2f over %d videos', metrics['top1'], metrics['top5'],
                metrics['mean_class_acc'], metrics['num_videos'])
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            json.dump(metrics, f, indent=1)
    return metrics


if __name__ == '__main__':
    main()
