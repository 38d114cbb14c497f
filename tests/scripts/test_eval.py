"""eval.py: every protocol covers the whole list once, --out JSON, any checkpoint spelling, same numbers in-process.

eval.py's main() runs in this process (PyNative, the test's device and logging kept); one slow test runs the real
command line end to end (GRAPH_MODE, its exit status and stderr)."""
import json
import logging
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import eval as eval_py
from helpers import randomize
from src.checkpoint import save_params
from src.data import create_dataset, make_demo_dataset
from src.errors import run_entry
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


@pytest.fixture
def eval_main(monkeypatch, caplog):
    """`run(*argv)`: `python eval.py *ARGS *argv` as eval.py's own run_entry(main) in this process (bad input: one
    stderr line and SystemExit(1)); its init_context and setup_logging left out, so this process keeps its device,
    PyNative mode and pytest's log capture (caplog at INFO)."""
    monkeypatch.setattr(eval_py, 'init_context', lambda *args: None)
    monkeypatch.setattr(eval_py, 'setup_logging', lambda *args: None)
    monkeypatch.delenv('TSM_DEBUG', raising=False)
    caplog.set_level(logging.INFO)

    def run(*argv):
        monkeypatch.setattr(sys, 'argv', ['eval.py', *ARGS, *argv])
        return run_entry(eval_py.main)
    return run


def evaluate_in_process(net, paths, root, **kwargs):
    """The library's evaluation of `net` (BN not folded) on the val list: (metrics, scores)."""
    dataset = create_dataset(paths['val'], str(root / 'frames'), False, 3, 4, num_classes=4, crop_size=32,
                             scale_size=32, num_parallel_workers=1, **kwargs)
    metrics, (scores, _, _) = evaluate(MultiViewClassifier(net), dataset, 8, 4)
    return metrics, scores


@pytest.fixture(scope='module')
def reference_scores(setup):
    """The library's logits of the default protocol (1 clip x 1 crop) for the val list."""
    root, net, _, _, paths = setup
    return evaluate_in_process(net, paths, root)


def assert_top1_logits(videos, scores):
    for video, row in zip(videos, scores):
        assert video['top5'][0]['class'] == int(np.argmax(row))
        assert video['top5'][0]['logit'] == pytest.approx(float(row.max()), rel=1e-4, abs=1e-5)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def assert_covers_every_video_once(result, paths):
    """The JSON of eval.py lists every video of the val list once, in order, with its top-5 (all 4 classes)."""
    assert result['num_videos'] == 8 and result['num_missing'] == 0
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


@pytest.mark.parametrize('num_clips, num_crops', [  # 1 x 1 (the default): the next test
    pytest.param(1, 3, marks=pytest.mark.slow), (2, 3)])
def test_each_protocol_covers_every_video_once(setup, eval_main, caplog, num_clips, num_crops):
    root, _, ckpt, data, paths = setup
    out = root / f'p{num_clips}{num_crops}.json'
    eval_main(*data, '--ckpt', ckpt, '--out', str(out), '--num_clips', str(num_clips), '--num_crops', str(num_crops))
    result = read_json(out)
    assert_covers_every_video_once(result, paths)
    assert f'{num_clips} clip(s) x {num_crops} crop(s) of 32' in result['protocol'] and 'over 8 videos' in caplog.text


def test_eval_matches_in_process_evaluation(setup, reference_scores, eval_main, caplog):
    """eval.py (checkpoint loaded, BN folded) gives the library's numbers for the unfolded network (a Hub-style
    checkpoint: the slow command-line test)."""
    root, _, ckpt, data, paths = setup
    eval_main(*data, '--ckpt', ckpt, '--out', str(root / 'ours.json'))
    result = read_json(root / 'ours.json')
    assert_covers_every_video_once(result, paths)
    assert result['protocol'].startswith('1 clip(s) x 1 crop(s) of 32') and 'over 8 videos' in caplog.text
    metrics, scores = reference_scores
    assert result['top1'] == pytest.approx(metrics['top1']) and result['top5'] == pytest.approx(metrics['top5'])
    assert_top1_logits(result['videos'], scores)


def test_eval_protocol_zoo_r17_is_what_eval_py_computes(setup, reference_scores, eval_main, caplog):
    """--eval_protocol zoo_r17 (r1.7's frames, squashed 40 x 32 -> 32 x 32): the same logits as evaluating the
    zoo_r17 dataset in process, other logits than the reference protocol, named in the JSON."""
    root, net, ckpt, data, paths = setup
    eval_main(*data, '--ckpt', ckpt, '--out', str(root / 'zoo_r17.json'), '--eval_protocol', 'zoo_r17')
    result = read_json(root / 'zoo_r17.json')
    assert result['protocol'].startswith('zoo_r17: r1.7 frame indices, frames squashed to 32 x 32, 1 clip x centre '
                                         'crop of 32, 4 frames') and 'over 8 videos' in caplog.text
    _, scores = evaluate_in_process(net, paths, root, eval_protocol='zoo_r17')
    assert_top1_logits(result['videos'], scores)
    assert np.abs(reference_scores[1] - scores).max() > 1e-3  # other frames, other pixels


def test_eval_refuses_a_missing_or_mismatched_checkpoint(setup, eval_main, capsys):
    _, _, ckpt, data, _ = setup
    with pytest.raises(SystemExit, match='--ckpt, --data_root and --val_list are required'):
        eval_main(*data)
    for extra, message in [(['--num_classes', '5'], '4 class names for num_classes=5'),
                           (['--num_classes', '5', '--class_names', ''], 'new_fc.weight')]:
        with pytest.raises(SystemExit) as refused:
            eval_main(*data, '--ckpt', ckpt, *extra)
        err = capsys.readouterr().err
        assert refused.value.code == 1 and err.startswith('eval.py: error: ') and message in err, err


def zero_byte_frame(setup, tmp_path):
    """A copy of the frames with val video 3's frame 2 empty (eval reads frames 2, 4, 6, 8); its eval.py options."""
    root, _, ckpt, data, _ = setup
    frames = tmp_path / 'frames'
    shutil.copytree(root / 'frames', frames)
    (frames / '3' / '000002.jpg').write_bytes(b'')
    (tmp_path / 'out.json').write_text('earlier')
    return frames, [*data, '--data_root', str(frames), '--ckpt', ckpt, '--out', str(tmp_path / 'out.json')]


def test_a_zero_byte_frame_is_one_error_line_or_a_counted_skip(setup, tmp_path, eval_main, capsys, caplog):
    """The pipeline's RuntimeError is reported as our one line (file named), exit 1, no traceback; with
    --skip_bad_samples the video is left out and counted; an earlier --out file is never half-written."""
    frames, argv = zero_byte_frame(setup, tmp_path)
    with pytest.raises(SystemExit) as failed:
        eval_main(*argv)
    err = capsys.readouterr().err
    assert failed.value.code == 1
    assert err == f'eval.py: error: {frames}/3/000002.jpg: empty frame file (0 bytes)\n'
    assert (tmp_path / 'out.json').read_text() == 'earlier'
    eval_main(*argv, '--skip_bad_samples', 'True')
    out = read_json(tmp_path / 'out.json')
    assert (out['num_videos'], out['num_missing']) == (7, 1) and '3' not in [v['video'] for v in out['videos']]
    assert f'skipped bad sample: {frames}/3/000002.jpg: empty frame file (0 bytes)' in caplog.text
    assert 'over 7 videos (1 unreadable, skipped)' in caplog.text  # the total is logged at exit: see the slow test
    assert sorted(os.listdir(tmp_path)) == ['frames', 'out.json']


def test_a_checkpoint_of_another_arch_loads_with_a_warning(setup, tmp_path, eval_main, caplog):
    root, net, _, data, _ = setup
    model = json.dumps({'depth': 18, 'num_classes': 4, 'num_segments': 4, 'shift_div': 8, 'shift_place': 'blockres',
                        'dropout': 0.5})
    ckpt = save_params(net, str(tmp_path / 'tsm.ckpt'), metadata={'arch': 'tsm', 'model': model})
    eval_main(*data, '--ckpt', ckpt, '--arch', 'tsn')
    assert (f'{ckpt} was saved from a network with arch tsm (this network: tsn); it loads' in caplog.text)


@pytest.mark.slow
def test_eval_py_command_line_end_to_end(setup, tmp_path):
    """`python eval.py` itself (GRAPH_MODE), on frames where val video 3 has a zero-byte frame: with
    --skip_bad_samples, 2 clips x 3 crops of a Hub-style checkpoint give the library's logits for the 7 other videos
    and the skipped total is logged at exit; without, the process ends with status 1 and one error line, no
    traceback, --out left alone."""
    root, net, _, data, paths = setup
    # the Hub checkpoint spells backbone names without `base_model.`
    params = {name.removeprefix('base_model.'): p for name, p in net.parameters_and_names()}
    hub = save_params(params, str(tmp_path / 'hub_style.ckpt'))
    frames, argv = zero_byte_frame(setup, tmp_path)
    argv = [*argv, '--ckpt', hub]  # the last --ckpt wins
    command = [sys.executable, os.path.join(ROOT, 'eval.py'), *ARGS, *argv]
    env = {k: v for k, v in os.environ.items() if k != 'TSM_DEBUG'}
    result = subprocess.run(command + ['--num_clips', '2', '--num_crops', '3', '--skip_bad_samples', 'True'],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'over 7 videos (1 unreadable, skipped)' in result.stderr
    assert 'skipped 1 bad samples in total' in result.stderr
    out = read_json(tmp_path / 'out.json')
    assert (out['num_videos'], out['num_missing']) == (7, 1)
    assert out['protocol'].startswith('2 clip(s) x 3 crop(s) of 32')
    _, scores = evaluate_in_process(net, paths, root, num_clips=2, num_crops=3)
    with open(paths['val']) as f:
        videos = [line.split()[0] for line in f]
    kept = [row for row, video in enumerate(videos) if video != '3']
    assert [v['video'] for v in out['videos']] == [videos[row] for row in kept] and len(kept) == 7
    assert_top1_logits(out['videos'], scores[kept])
    (tmp_path / 'out.json').write_text('earlier')
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if 'error' in line.lower()]
    assert errors == [f'eval.py: error: {frames}/3/000002.jpg: empty frame file (0 bytes)'], result.stderr[-3000:]
    assert 'Traceback' not in result.stderr and (tmp_path / 'out.json').read_text() == 'earlier'
