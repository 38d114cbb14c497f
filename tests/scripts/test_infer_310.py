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

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
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
    import eval as eval_py  # eval.py's main in this process (its command line: tests/scripts/test_eval.py)
    with pytest.MonkeyPatch.context() as patch:  # this process keeps its device, PyNative mode and logging
        patch.setattr(eval_py, 'init_context', lambda *args: None)
        patch.setattr(eval_py, 'setup_logging', lambda *args: None)
        patch.setattr(sys, 'argv', ['eval.py', '--config_path', str(config), '--ckpt', ckpt, '--batch_size', '5',
                                    '--out', str(root / 'eval.json')])
        eval_py.main()
    with open(root / 'eval.json') as f:
        result = json.load(f)
    top5 = [[(item['class'], item['logit']) for item in video['top5']] for video in result['videos']]
    return root, config, ckpt, result, np.array(top5)  # (videos, 5, (class, logit))


def lite_package():
    """The mindspore_lite folder of the wheel in .venv-lite (include/api, lib/)."""
    return run(LITE_PYTHON, '-c', 'import os, mindspore_lite; print(os.path.dirname(mindspore_lite.__file__))'
               ).stdout.strip()


NO_LITE_HOME = dict(LITE_HOME='', MS_LITE_HOME='', MINDSPORE_PATH='')  # whatever the calling shell has set


@pytest.mark.slow
@pytest.mark.parametrize('input_dtype, script', [('uint8', 'run_infer_cpp.sh'), ('float32', 'run_infer_310.sh')])
def test_cpu_chain_reproduces_eval_py(evaluated, input_dtype, script, monkeypatch):
    import export  # export.py's main in this process (its command line: tests/scripts/test_export.py)
    root, config, ckpt, expected, top5 = evaluated
    out = root / input_dtype  # MindSpore's export refuses file names with spaces
    monkeypatch.setattr(export, 'init_context', lambda *args: None)
    monkeypatch.delenv('DEVICE_ID', raising=False)
    export.main(['--config_path', str(config), '--ckpt', ckpt, '--file_format', 'ONNX', '--input_dtype', input_dtype,
                 '--output_dir', str(out), '--file_name', 'tsm'])  # batch 1 by default
    cwd = root / f'elsewhere {input_dtype}'  # not the repository (the script finds its files), a space in the path
    cwd.mkdir()
    args = ((out / 'tsm.onnx', config, 'run dir', 'CPU') if script == 'run_infer_cpp.sh'
            else ('CPU', config, out / 'tsm.onnx', 'run dir'))  # run_infer_310.sh: the earlier argument order
    log = run('bash', os.path.join(ROOT, 'scripts', script), *args, '--input_dtype', input_dtype, cwd=cwd,
              PYTHON=sys.executable, LITE_PYTHON=LITE_PYTHON, **NO_LITE_HOME).stdout
    out = cwd / 'run dir'  # OUTPUT_DIR relative to the working directory; the scripts must quote every path
    assert f'LD_LIBRARY_PATH: {lite_package()}/lib first' in log
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
    assert (f'{wrong / "clip_bad.bin"} holds {clip_bytes // 2} bytes, the model input takes {clip_bytes}'
            in result.stderr)
    # an option given twice is refused, not silently overridden
    result = subprocess.run(infer + ['--device_target=Ascend'], capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 1
    assert "--device_target given twice ('CPU' and 'Ascend')" in result.stderr
    if input_dtype == 'uint8':
        check_lite_home_layout(root, config, out, logits)


def check_lite_home_layout(root, config, first_run, logits):
    """The same run from an unpacked-package layout (MS_LITE_HOME, the zoo's name, with a space in it) and a .mindir:
    compiled against LITE_HOME/runtime, its library folders on LD_LIBRARY_PATH, no conversion, no Lite Python."""
    package = lite_package()
    home = root / 'lite home'
    (home / 'runtime' / 'third_party' / 'glog').mkdir(parents=True)
    (home / 'runtime' / 'third_party' / 'empty').mkdir()  # no libraries: not put on the path
    (home / 'tools' / 'converter' / 'lib').mkdir(parents=True)
    os.symlink(os.path.join(package, 'include'), home / 'runtime' / 'include')
    os.symlink(os.path.join(package, 'lib'), home / 'runtime' / 'lib')
    os.symlink(os.path.join(package, 'lib', 'libmindspore_glog.so.0'),
               home / 'runtime' / 'third_party' / 'glog' / 'libmindspore_glog.so.0')
    log = run('bash', os.path.join(ROOT, 'scripts', 'run_infer_cpp.sh'), first_run / 'model_lite.mindir', config,
              root / 'lite home run', 'CPU', '--input_dtype', 'uint8', PYTHON=sys.executable,
              LITE_PYTHON='/nonexistent/python', **{**NO_LITE_HOME, 'MS_LITE_HOME': str(home)}).stdout
    runtime = home / 'runtime'
    assert (f'LD_LIBRARY_PATH: {runtime}/lib {runtime}/third_party/glog {home}/tools/converter/lib first') in log
    assert '== convert' not in log
    assert f'MindSpore C++ API: {runtime}/include/api' in (root / 'lite home run' / 'compile.log').read_text()
    clips = sorted(os.listdir(root / 'lite home run' / 'logits'))
    assert clips == [f'clip_{row:06d}.bin' for row in range(12)] + ['latency.txt']
    again = np.stack([np.fromfile(root / 'lite home run' / 'logits' / c, np.float32) for c in clips[:-1]])
    np.testing.assert_array_equal(again, logits)


@pytest.mark.slow
def test_app_builds_as_strict_cpp14(tmp_path):
    """GCC 7.3 (the Ascend toolkits') has no <filesystem>: the sources must stay C++14, checked with -pedantic-errors
    -Werror against MindSpore Lite's headers (C++14 is also the oldest standard those headers compile with)."""
    require_lite()
    build = tmp_path / 'build 14'
    log = run('bash', os.path.join(ROOT, 'ascend310_infer', 'build.sh'), build, CXX_STANDARD='14', STRICT='1',
              PYTHON=LITE_PYTHON, **NO_LITE_HOME).stdout
    assert 'C++14, strict ON' in log and os.access(build / 'tsm_infer', os.X_OK)
    flags = (build / 'CMakeFiles' / 'tsm_infer.dir' / 'flags.make').read_text()
    assert '-std=c++14' in flags and '-pedantic-errors' in flags and '-Werror' in flags


def test_build_refuses_a_cpp_standard_older_than_14(tmp_path):
    result = subprocess.run(['bash', os.path.join(ROOT, 'ascend310_infer', 'build.sh'), tmp_path / 'b'],
                            capture_output=True, text=True, env={**os.environ, 'CXX_STANDARD': '11'}, timeout=60)
    assert result.returncode == 1 and "CXX_STANDARD must be 14 or 17, got '11'" in result.stderr


UTILS_DRIVER = r"""
#include <iostream>
#include <stdexcept>
#include "utils.h"
int main(int, char **argv) {
  const std::string dir = argv[1];
  for (const auto &path : tsm::ListFiles(dir + "/in put", ".bin")) std::cout << "list " << path << "\n";
  tsm::MakeDirs(dir + "/new dir/a/b");
  tsm::MakeDirs(dir + "/new dir/a/b/");  // again, with a trailing slash: nothing to do
  std::cout << "made " << tsm::ListFiles(dir + "/new dir/a/b", ".bin").size() << "\n";
  for (const char *path : {"/a/clip_000003.bin", "clip.tar.bin", "noext", "/x.y/z", ".bin"})
    std::cout << "stem " << tsm::Stem(path) << "\n";
  const char data[] = "12345678";
  tsm::WriteFile(dir + "/new dir/a/b/c.bin", data, 8);
  std::cout << "read " << tsm::ReadExactly(dir + "/new dir/a/b/c.bin", 8).size() << "\n";
  for (auto attempt : {0, 1, 2}) {
    try {
      if (attempt == 0) tsm::ReadExactly(dir + "/new dir/a/b/c.bin", 4);
      if (attempt == 1) tsm::MakeDirs(dir + "/in put/b.bin/sub");
      if (attempt == 2) tsm::ListFiles(dir + "/missing", ".bin");
    } catch (const std::runtime_error &error) {
      std::cout << "error " << error.what() << "\n";
    }
  }
  return 0;
}
"""


def test_file_helpers_are_posix_cpp14(tmp_path):
    """utils.cc without <filesystem>, compiled as strict C++14 (no MindSpore needed): what main.cc relies on."""
    if shutil.which('g++') is None:
        pytest.skip('g++ not found')
    (tmp_path / 'driver.cc').write_text(UTILS_DRIVER)
    program = tmp_path / 'driver'
    inc, src = os.path.join(ROOT, 'ascend310_infer', 'inc'), os.path.join(ROOT, 'ascend310_infer', 'src')
    run('g++', '-std=c++14', '-pedantic-errors', '-Wall', '-Wextra', '-Werror', '-I', inc, tmp_path / 'driver.cc',
        os.path.join(src, 'utils.cc'), '-o', program)
    folder = tmp_path / 'in put'
    folder.mkdir()
    for name in ('b.bin', 'a.bin', 'c.txt', 'clip ü.bin'):
        (folder / name).write_bytes(b'x')
    (folder / 'dir.bin').mkdir()  # a folder is not a clip
    os.symlink(folder / 'a.bin', folder / 'link.bin')  # a link to a file is (stat follows it)
    os.symlink(folder / 'gone', folder / 'dangling.bin')  # a dangling one is not
    lines = run(program, tmp_path).stdout.splitlines()
    assert lines == [f'list {folder}/{name}' for name in ('a.bin', 'b.bin', 'clip ü.bin', 'link.bin')] + [
        'made 0', 'stem clip_000003', 'stem clip.tar', 'stem noext', 'stem z', 'stem .bin', 'read 8',
        f'error {tmp_path}/new dir/a/b/c.bin holds 8 bytes, the model input takes 4 (preprocess with the model\'s '
        f'batch size 1, num_segments, crop_size and input_dtype)',
        f'error cannot create folder {folder}/b.bin/sub: Not a directory',
        f'error input folder not found: {tmp_path}/missing']


def lite_env(command, **env):
    script = f'source "{ROOT}/scripts/lite_env.sh"; {command}'
    return subprocess.run(['bash', '-c', script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env})


def test_lite_library_dirs_of_a_package_layout(tmp_path):
    home = tmp_path / 'mindspore lite'
    for folder in ('runtime/lib', 'runtime/third_party/glog', 'runtime/third_party/libjpeg-turbo/lib',
                   'runtime/third_party/dnnl', 'runtime/third_party/docs', 'tools/converter/lib'):
        (home / folder).mkdir(parents=True)
    (home / 'runtime/third_party/glog/libmindspore_glog.so.0').write_bytes(b'')
    (home / 'runtime/third_party/dnnl/libdnnl.so.2').write_bytes(b'')
    result = lite_env('lite_library_dirs "$HOME_DIR"', HOME_DIR=str(home))
    runtime = home / 'runtime'
    assert result.stdout.splitlines() == [f'{runtime}/lib', f'{runtime}/third_party/dnnl',
                                          f'{runtime}/third_party/glog', f'{runtime}/third_party/libjpeg-turbo/lib',
                                          f'{home}/tools/converter/lib']
    result = lite_env('prepend_library_path "a b" /c; echo "$LD_LIBRARY_PATH"', LD_LIBRARY_PATH='/old')
    assert result.stdout.strip() == 'a b:/c:/old'
    result = lite_env('prepend_library_path /x; echo "$LD_LIBRARY_PATH"', LD_LIBRARY_PATH='')
    assert result.stdout.strip() == '/x'
    result = lite_env('lite_library_dirs "$HOME_DIR"', HOME_DIR=str(tmp_path))
    assert result.returncode == 1 and 'is not an unpacked MindSpore Lite package: no runtime/lib there' in result.stderr


def test_run_infer_cpp_refuses_what_cannot_work(tmp_path):
    config, model, om = tmp_path / 'c.yaml', tmp_path / 'tsm.mindir', tmp_path / 'tsm.om'
    for path in (config, model, om):
        path.write_text('')
    script = os.path.join(ROOT, 'scripts', 'run_infer_cpp.sh')

    def refused(*args, **env):
        result = subprocess.run(['bash', script, *map(str, args)], capture_output=True, text=True, timeout=60,
                                env={**os.environ, **NO_LITE_HOME, **env}, cwd=tmp_path)
        assert result.returncode == 1, result.stdout
        assert not (tmp_path / 'out').exists()  # nothing ran
        return result.stdout + result.stderr

    assert "Ascend needs the MindSpore Lite package for your CANN version: set LITE_HOME (or MS_LITE_HOME)" in refused(
        model, config, 'out', 'Ascend')
    assert 'OM models are not supported' in refused(om, config, 'out', 'Ascend', LITE_HOME=str(tmp_path))
    assert 'differ; set one of them' in refused(model, config, 'out', 'Ascend', LITE_HOME='/a', MS_LITE_HOME='/b')
    assert 'is not an unpacked MindSpore Lite package' in refused(model, config, 'out', 'Ascend',
                                                                   LITE_HOME=str(tmp_path))
    assert "DEVICE_TYPE must be Ascend or CPU, got 'GPU'" in refused(model, config, 'out', 'GPU')
    assert "DEVICE_ID must be a non-negative integer, got 'x'" in refused(model, config, 'out', 'Ascend', 'x')
    assert 'Usage: bash scripts/run_infer_310.sh DEVICE_TYPE CONFIG_PATH MODEL_PATH OUTPUT_DIR' in subprocess.run(
        ['bash', os.path.join(ROOT, 'scripts', 'run_infer_310.sh'), 'CPU'], capture_output=True, text=True).stdout


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
    args = ['--result_dir', str(tmp_path / 'logits'), '--label_file', str(label_file), '--out',
            str(tmp_path / 'a.json')]
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
