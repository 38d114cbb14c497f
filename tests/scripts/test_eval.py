"""eval.py: every protocol covers the whole list once, --out JSON, any checkpoint spelling, same numbers in-process."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from helpers import randomize
from src.checkpoint import save_params
from src.data import create_dataset, make_demo_dataset
from src.evaluate import MultiViewClassifier, evaluate
from src.models import create_model

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
MODEL = dict(depth=18, num_classes=4, num_segments=4)
ARGS = ['--device_target', 'CPU', '--arch', 'tsm', '--depth', '18', '--num_classes', '4', '--num_segments', '4',
        '--crop_size', '32', '--scale_size', '32', '--batch_size', '3', '--num_parallel_workers', '1']


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """A tiny demo val set (4 classes x 2 videos, 8 frames of 32 x 40) and a random TSM checkpoint."""
    root = tmp_path_factory.mktemp('eval')
    paths = make_demo_dataset(str(root), videos_per_class=(0, 2), num_frames=8, height=32, width=40,
                              motions=('move', 'zoom'))
    net = create_model('tsm', **MODEL)
    randomize(net, seed=3)
    ckpt = save_params(net, str(root / 'tsm.ckpt'))
    data = ['--data_root', str(root / 'frames'), '--val_list', paths['val'], '--class_names', paths['category']]
    return root, net, ckpt, data, paths


def run_eval(root, ckpt, data, name, *extra):
    out = str(root / f'{name}.json')
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'eval.py'), *ARGS, *data, '--ckpt', ckpt,
                             '--out', out, *extra], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(out) as f:
        return json.load(f), result.stderr


@pytest.mark.parametrize('num_clips, num_crops', [(1, 1), (1, 3), (2, 3)])
def test_each_protocol_covers_every_video_once(setup, num_clips, num_crops):
    root, _, ckpt, data, paths = setup
    result, log = run_eval(root, ckpt, data, f'p{num_clips}{num_crops}', '--num_clips', str(num_clips),
                           '--num_crops', str(num_crops))
    assert result['num_videos'] == 8 and result['num_missing'] == 0
    assert f'{num_clips} clip(s) x {num_crops} crop(s) of 32' in result['protocol'] and 'over 8 videos' in log
    videos = result['videos']
    with open(paths['val']) as f:
        listed = [line.split() for line in f]
    assert [(v['video'], v['label']) for v in videos] == [(p, int(label)) for p, _, label in listed]
    for v in videos:
        assert len(v['top5']) == 4  # min(5, num_classes)
        logits = [t['logit'] for t in v['top5']]
        assert logits == sorted(logits, reverse=True) and {t['class'] for t in v['top5']} == {0, 1, 2, 3}
        assert v['top5'][0]['name'] in open(paths['category']).read()
    top1 = np.mean([v['top5'][0]['class'] == v['label'] for v in videos]) * 100
    assert result['top1'] == pytest.approx(top1)


def test_eval_py_matches_in_process_evaluation_and_hub_style_names(setup):
    root, net, ckpt, data, paths = setup
    result, _ = run_eval(root, ckpt, data, 'ours')
    dataset = create_dataset(paths['val'], str(root / 'frames'), False, 3, 4, num_classes=4, crop_size=32,
                             scale_size=32, num_parallel_workers=1)
    metrics, (scores, _, _) = evaluate(MultiViewClassifier(net), dataset, 8, 4)
    assert result['top1'] == pytest.approx(metrics['top1']) and result['top5'] == pytest.approx(metrics['top5'])
    for video, row in zip(result['videos'], scores):
        assert video['top5'][0]['class'] == int(np.argmax(row))
        assert video['top5'][0]['logit'] == pytest.approx(float(row.max()), rel=1e-4, abs=1e-5)
    # the Hub checkpoint spells backbone names without `base_model.`
    params = {name.removeprefix('base_model.'): p for name, p in net.parameters_and_names()}
    hub = save_params(params, str(root / 'hub_style.ckpt'))
    hub_result, _ = run_eval(root, hub, data, 'hub')
    assert [v['top5'] for v in hub_result['videos']] == [v['top5'] for v in result['videos']]


def test_eval_protocol_zoo_r17_is_what_eval_py_computes(setup):
    """--eval_protocol zoo_r17 (r1.7's frames, squashed 40 x 32 -> 32 x 32): the same logits as evaluating the
    zoo_r17 dataset in process, other logits than the reference protocol, named in the JSON."""
    root, net, ckpt, data, paths = setup
    result, log = run_eval(root, ckpt, data, 'zoo_r17', '--eval_protocol', 'zoo_r17')
    assert result['protocol'].startswith('zoo_r17: r1.7 frame indices, frames squashed to 32 x 32, 1 clip x centre '
                                         'crop of 32, 4 frames') and 'over 8 videos' in log
    dataset = create_dataset(paths['val'], str(root / 'frames'), False, 3, 4, num_classes=4, crop_size=32,
                             scale_size=32, num_parallel_workers=1, eval_protocol='zoo_r17')
    _, (scores, _, _) = evaluate(MultiViewClassifier(net), dataset, 8, 4)
    for video, row in zip(result['videos'], scores):
        assert video['top5'][0]['class'] == int(np.argmax(row))
        assert video['top5'][0]['logit'] == pytest.approx(float(row.max()), rel=1e-4, abs=1e-5)
    reference = create_dataset(paths['val'], str(root / 'frames'), False, 3, 4, num_classes=4, crop_size=32,
                               scale_size=32, num_parallel_workers=1)
    _, (reference_scores, _, _) = evaluate(MultiViewClassifier(net), reference, 8, 4)
    assert np.abs(reference_scores - scores).max() > 1e-3  # other frames, other pixels


def test_eval_refuses_a_missing_or_mismatched_checkpoint(setup):
    root, _, ckpt, data, _ = setup
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'eval.py'), *ARGS, *data], capture_output=True,
                            text=True)
    assert result.returncode != 0 and '--ckpt, --data_root and --val_list are required' in result.stderr
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'eval.py'), *ARGS, *data, '--ckpt', ckpt,
                             '--num_classes', '5'], capture_output=True, text=True)
    assert result.returncode != 0 and '4 class names for num_classes=5' in result.stderr
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'eval.py'), *ARGS, *data, '--ckpt', ckpt,
                             '--num_classes', '5', '--class_names', ''], capture_output=True, text=True)
    assert result.returncode != 0 and 'new_fc.weight' in result.stderr


def test_a_zero_byte_frame_is_one_error_line_or_a_counted_skip(setup, tmp_path):
    """The pipeline's RuntimeError is reported as our one line (file named), exit 1, no traceback; with
    --skip_bad_samples the video is left out and counted; an earlier --out file is never half-written."""
    root, _, ckpt, data, paths = setup
    frames = tmp_path / 'frames'
    shutil.copytree(root / 'frames', frames)
    (frames / '3' / '000002.jpg').write_bytes(b'')  # val video 3: eval reads frames 2, 4, 6, 8
    (tmp_path / 'out.json').write_text('earlier')
    command = [sys.executable, os.path.join(ROOT, 'eval.py'), *ARGS, *data, '--data_root', str(frames), '--ckpt', ckpt,
               '--out', str(tmp_path / 'out.json')]
    env = {k: v for k, v in os.environ.items() if k != 'TSM_DEBUG'}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if 'error' in line.lower()]
    assert errors == [f'eval.py: error: {frames}/3/000002.jpg: empty frame file (0 bytes)'], result.stderr[-3000:]
    assert 'Traceback' not in result.stderr and (tmp_path / 'out.json').read_text() == 'earlier'
    result = subprocess.run(command + ['--skip_bad_samples', 'True'], capture_output=True, text=True, timeout=300,
                            env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(tmp_path / 'out.json') as f:
        out = json.load(f)
    assert (out['num_videos'], out['num_missing']) == (7, 1) and '3' not in [v['video'] for v in out['videos']]
    assert 'skipped 1 bad samples in total' in result.stderr and os.listdir(tmp_path) == ['frames', 'out.json']


def test_a_checkpoint_of_another_arch_loads_with_a_warning(setup, tmp_path):
    root, net, _, data, _ = setup
    model = json.dumps({'depth': 18, 'num_classes': 4, 'num_segments': 4, 'shift_div': 8, 'shift_place': 'blockres',
                        'dropout': 0.5})
    ckpt = save_params(net, str(tmp_path / 'tsm.ckpt'), metadata={'arch': 'tsm', 'model': model})
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'eval.py'), *ARGS, *data, '--ckpt', ckpt,
                             '--arch', 'tsn'], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (f'WARNING {ckpt} was saved from a network with arch tsm (this network: tsn); it loads'
            in result.stderr)
