"""Offline inference end to end on CPU: export ONNX -> MindSpore Lite -> C++ app -> the accuracy and logits of eval.py.

The CPU chain needs MindSpore Lite 2.0 in its Python 3.7 venv (scripts/setup_lite_cpu.sh), cmake and g++; without
them the end-to-end test skips, unless TSM_REQUIRE_LITE=1 (CI), where it fails. postprocess.py and
setup_lite_cpu.sh's interpreter search are tested without them.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from helpers import randomize, relative_error
from postprocess import main as postprocess_main
from src.checkpoint import save_params
from src.data import make_demo_dataset
from src.models import create_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LITE_PYTHON = os.environ.get('LITE_PYTHON', os.path.join(ROOT, '.venv-lite', 'bin', 'python'))
MODEL = dict(arch='tsm', depth=18, num_classes=6, num_segments=4)
DATA = dict(crop_size=32, scale_size=32, num_parallel_workers=1, device_target='CPU')
TIMEOUT = 300


def missing_tools():
    """Why the CPU chain cannot run here ('' when it can)."""
    if not os.path.isfile(LITE_PYTHON):
        return f'MindSpore Lite venv not found ({LITE_PYTHON}): run scripts/setup_lite_cpu.sh'
    probe = subprocess.run([LITE_PYTHON, '-c', 'import mindspore_lite'], capture_output=True, text=True)
    if probe.returncode:
        return f'mindspore_lite does not import in {LITE_PYTHON}: {probe.stderr.strip()[-300:]}'
    missing = [tool for tool in ('cmake', 'g++') if shutil.which(tool) is None]
    return f'{" and ".join(missing)} not found' if missing else ''


def require_lite():
    reason = missing_tools()
    if reason and os.environ.get('TSM_REQUIRE_LITE') == '1':
        pytest.fail(f'TSM_REQUIRE_LITE=1 but {reason}')
    if reason:
        pytest.skip(reason)


def run(*command, cwd=None, **env):
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=TIMEOUT, cwd=cwd,
                            env={**os.environ, **env})
    assert result.returncode == 0, f'{command[:2]}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}'
    return result


@pytest.fixture(scope='module')
def evaluated(tmp_path_factory):
    """A demo val set (6 classes x 2 videos), a random TSM-R18 checkpoint, its config, and eval.py's results."""
    require_lite()
    root = tmp_path_factory.mktemp('infer310')
    paths = make_demo_dataset(str(root), videos_per_class=(0, 2), num_frames=8, height=32, width=40,
                              motions=('move', 'zoom', 'fade'))
    net = create_model(MODEL['arch'], **{k: v for k, v in MODEL.items() if k != 'arch'})
    randomize(net, seed=5)
    ckpt = save_params(net, str(root / 'tsm.ckpt'))
    config = root / 'config.yaml'
    config.write_text(''.join(f'{k}: {v}\n' for k, v in {**MODEL, **DATA, 'data_root': root / 'frames',
                                                          'val_list': paths['val']}.items()))
    run(sys.executable, os.path.join(ROOT, 'eval.py'), '--config_path', config, '--ckpt', ckpt, '--batch_size', 5,
        '--out', root / 'eval.json')
    with open(root / 'eval.json') as f:
        result = json.load(f)
    top5 = [[(item['class'], item['logit']) for item in video['top5']] for video in result['videos']]
    return root, config, ckpt, result, np.array(top5)  # (videos, 5, (class, logit))


@pytest.mark.slow
@pytest.mark.parametrize('input_dtype', ['uint8', 'float32'])
def test_cpu_chain_reproduces_eval_py(evaluated, input_dtype):
    root, config, ckpt, expected, top5 = evaluated
    out = root / input_dtype  # MindSpore's export refuses file names with spaces
    run(sys.executable, os.path.join(ROOT, 'export.py'), '--config_path', config, '--ckpt', ckpt, '--file_format',
        'ONNX', '--batch_size', 1, '--input_dtype', input_dtype, '--output_dir', out, '--file_name', 'tsm')
    cwd = root / f'elsewhere {input_dtype}'  # not the repository (the script finds its files), a space in the path
    cwd.mkdir()
    log = run('bash', os.path.join(ROOT, 'scripts', 'run_infer_310.sh'), 'CPU', config, out / 'tsm.onnx', 'run dir',
              '--input_dtype', input_dtype, cwd=cwd, PYTHON=sys.executable, LITE_PYTHON=LITE_PYTHON).stdout
    out = cwd / 'run dir'  # OUTPUT_DIR relative to the working directory; the scripts must quote every path
    assert 'median' in log and 'over 12 timed Predict calls (one per clip, after 1 untimed warm-up call; CPU)' in log
    assert (out / 'logits' / 'latency.txt').read_text() in log
    with open(out / 'acc.json') as f:
        metrics = json.load(f)
    assert metrics['num_videos'] == expected['num_videos'] == 12
    assert (metrics['top1'], metrics['top5']) == (expected['top1'], expected['top5'])
    clips = sorted(os.listdir(out / 'clips'))
    assert clips == [f'clip_{row:06d}.bin' for row in range(12)]  # one file per video, no padding rows
    clip_bytes = np.dtype(input_dtype).itemsize * 3 * MODEL['num_segments'] * DATA['crop_size'] ** 2
    assert {os.path.getsize(out / 'clips' / c) for c in clips} == {clip_bytes}
    logits = np.stack([np.fromfile(out / 'logits' / c, np.float32) for c in clips])
    assert logits.shape == (12, MODEL['num_classes'])
    classes = top5[:, :, 0].astype(int)  # eval.py's 5 best classes of each video, best first
    assert (np.argsort(-logits, axis=1, kind='stable')[:, :5] == classes).all()
    assert relative_error(np.take_along_axis(logits, classes, axis=1), top5[:, :, 1]) < 1e-4
    # a clip of the other dtype does not fit the model: the program names the file and stops
    wrong = out / 'wrong'
    wrong.mkdir()
    np.zeros(clip_bytes // 2, np.uint8).tofile(wrong / 'clip_bad.bin')
    infer = [out / 'build' / 'tsm_infer', f'--model_path={out / "model_lite.mindir"}', f'--input_dir={wrong}',
             f'--output_dir={wrong / "logits"}', '--device_target=CPU']
    result = subprocess.run(infer, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 1
    assert f'{wrong / "clip_bad.bin"} holds {clip_bytes // 2} bytes, the model input takes {clip_bytes}' in result.stderr
    # an option given twice is refused, not silently overridden
    result = subprocess.run(infer + ['--device_target=Ascend'], capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 1
    assert "--device_target given twice ('CPU' and 'Ascend')" in result.stderr


def test_postprocess_computes_top1_top5_and_names_bad_files(tmp_path):
    logits = np.array([[0, 3, 2, 1], [4, 0, 1, 2], [0, 1, 2, 3]], np.float32)  # top-1: 1, 0, 3
    labels = [1, 2, 0]  # hit; top-2 only; last place
    (tmp_path / 'logits').mkdir()
    for row, values in enumerate(logits):
        values.tofile(tmp_path / 'logits' / f'clip_{row:06d}.bin')
    label_file = tmp_path / 'labels.json'
    clips = [{'clip': f'clip_{row:06d}', 'label': label, 'video': f'class {row}/video {row}.mp4'}
             for row, label in enumerate(labels)]
    label_file.write_text(json.dumps({'num_classes': 4, 'clips': clips}))
    args = ['--result_dir', str(tmp_path / 'logits'), '--label_file', str(label_file), '--out', str(tmp_path / 'a.json')]
    metrics = postprocess_main(args)
    assert metrics['top1'] == pytest.approx(100 / 3) and metrics['top5'] == 100 and metrics['num_videos'] == 3
    assert json.loads((tmp_path / 'a.json').read_text())['top1'] == pytest.approx(100 / 3)
    with pytest.raises(SystemExit, match=r"holds 12 bytes; expected 4 float32 logits \(video 'class 1/video 1.mp4'\)"):
        np.zeros(3, np.float32).tofile(tmp_path / 'logits' / 'clip_000001.bin')
        postprocess_main(args)
    os.remove(tmp_path / 'logits' / 'clip_000001.bin')
    with pytest.raises(SystemExit, match=r"missing logits file .*clip_000001.bin \(video 'class 1/video 1.mp4'\)"):
        postprocess_main(args)
    with pytest.raises(SystemExit, match=r'holds 16 bytes; expected 5 float32'):
        postprocess_main(args + ['--num_classes', '5'])
    label_file.write_text(json.dumps({'num_classes': 5, 'clips': clips}))  # the labels file's num_classes is checked
    with pytest.raises(SystemExit, match=r'clip_000000.bin holds 16 bytes; expected 5 float32'):
        postprocess_main(args)
    for bad, message in [('clip_000000 1 video0\n', 'not the labels.json of preprocess.py'),
                         ('[]', r'expected \{"num_classes": N, "clips": \[...\]\}'),
                         (json.dumps({'clips': [{'clip': '../x', 'label': 1, 'video': 'v'}]}), r'clip 0: expected'),
                         (json.dumps({'clips': [{'clip': 'c', 'label': '1', 'video': 'v'}]}), r'clip 0: expected'),
                         (json.dumps({'clips': []}), 'lists no clips')]:
        label_file.write_text(bad)
        with pytest.raises(SystemExit, match=message):
            postprocess_main(args)


def test_postprocess_does_not_import_mindspore():
    code = ('import sys; sys.argv = ["postprocess.py", "--help"]; import postprocess\n'
            'try:\n    postprocess.main()\nexcept SystemExit:\n    pass\n'
            'print(sorted(m for m in sys.modules if m.split(".")[0] == "mindspore"))')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'top-1 / top-5' in result.stdout  # the --help text was printed
    assert result.stdout.splitlines()[-1] == '[]'


def test_setup_lite_cpu_takes_the_newest_pyenv_python37_under_a_path_with_spaces(tmp_path):
    pyenv = tmp_path / 'py env'
    for version in ('3.7.9', '3.7.16', '3.8.1'):  # 3.7.16 is newer than 3.7.9 (version order, not text order)
        python = pyenv / 'versions' / version / 'bin' / 'python3.7'
        python.parent.mkdir(parents=True)
        python.write_text('#!/bin/sh\nexit 3\n')  # stops the script at its first use: creating the venv
        python.chmod(0o755)
    venv = tmp_path / 'lite venv'
    result = subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'setup_lite_cpu.sh'), str(venv)],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path,
                            env={**os.environ, 'PYENV_ROOT': str(pyenv), 'PYTHON37': ''})
    assert result.returncode == 3, result.stdout + result.stderr
    assert f'creating {venv} with {pyenv}/versions/3.7.16/bin/python3.7' in result.stdout
