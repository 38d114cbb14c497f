"""Data parallel on CPU: two msrun nodes through scripts/run_distribute_train.sh, distributed eval = single eval,
the all-ranks decision on non-finite steps (only rank 1 sees the bad batches), single-device scripts that ignore an
inherited distributed environment, and the launcher's rank arithmetic for 2 x 8 Ascend (dry run).

msrun starts the scheduler on the node whose own address is MASTER_ADDR; two msrun "nodes" on one loopback would
both start one. So node 1 runs in a network namespace of its own (a second host on a virtual link to this one):
the closest simulation of two servers this machine allows. It needs root and `ip`; CI sets TSM_REQUIRE_NETNS=1 so
the test cannot skip there.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from src.data import make_demo_dataset

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
LAUNCHER = os.path.join(ROOT, 'scripts', 'run_distribute_train.sh')
CONFIG = os.path.join(ROOT, 'configs', 'demo_tsm.yaml')
TINY = ['--device_target', 'CPU', '--arch', 'tsm', '--depth', '18', '--num_classes', '4', '--num_segments', '2',
        '--crop_size', '32', '--scale_size', '32', '--batch_size', '2', '--num_parallel_workers', '1',
        '--log_every', '1']
MSRUN = shutil.which('msrun', path=os.path.dirname(sys.executable))
needs_msrun = pytest.mark.skipif(MSRUN is None, reason="msrun is not installed next to this interpreter")


def env(**extra):
    """msrun starts a bare `python`: this interpreter's directory first on PATH."""
    return {**os.environ, 'PATH': os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''),
            **{k: str(v) for k, v in extra.items()}}


def read(path):
    with open(path) as f:
        return f.read()


def digest(log):
    return re.search(r'weights digest (\w+)', log).group(1)


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    """4 classes, 12 train videos (3 steps of 2 clips x 2 ranks) and 12 held-out videos."""
    root = tmp_path_factory.mktemp('data')
    paths = make_demo_dataset(str(root), videos_per_class=(3, 3), num_frames=8, height=32, width=40,
                              motions=('move', 'zoom'))
    return ['--data_root', str(root / 'frames'), '--train_list', paths['train'], '--val_list', paths['val']]


def _skip_or_fail(reason):
    if os.environ.get('TSM_REQUIRE_NETNS') == '1':
        pytest.fail(f'TSM_REQUIRE_NETNS=1 but {reason}')
    pytest.skip(reason)


@pytest.fixture
def second_host():
    """A network namespace linked to this one: (address of this host, address of the other, command prefix)."""
    if os.geteuid() != 0 or shutil.which('ip') is None:
        _skip_or_fail('network namespaces need root and iproute2 (ip)')
    tag = os.getpid() % 100000
    name, near, far, net = f'tsmnode{tag}', f'tsma{tag}', f'tsmb{tag}', f'10.251.{tag % 250}'
    setup = [['ip', 'netns', 'add', name], ['ip', 'link', 'add', near, 'type', 'veth', 'peer', 'name', far],
             ['ip', 'link', 'set', far, 'netns', name], ['ip', 'addr', 'add', f'{net}.1/24', 'dev', near],
             ['ip', 'link', 'set', near, 'up'],
             ['ip', 'netns', 'exec', name, 'ip', 'addr', 'add', f'{net}.2/24', 'dev', far],
             ['ip', 'netns', 'exec', name, 'ip', 'link', 'set', far, 'up'],
             ['ip', 'netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']]
    try:
        for command in setup:
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode:
                _skip_or_fail(f"{' '.join(command)}: {result.stderr.strip()}")
        yield f'{net}.1', f'{net}.2', ['ip', 'netns', 'exec', name]
    finally:
        subprocess.run(['ip', 'link', 'del', near], capture_output=True)
        subprocess.run(['ip', 'netns', 'del', name], capture_output=True)


@pytest.mark.slow
@needs_msrun
def test_two_nodes_train_identical_ranks_write_once_and_eval_like_one_device(tmp_path, demo, second_host):
    master, _, on_node1 = second_host
    out = tmp_path / 'run'
    command = ['bash', LAUNCHER, 'msrun', '1', 'CPU', CONFIG, str(out), *TINY, *demo, '--epochs', '1',
               '--eval_every', '1']
    nodes = dict(NODE_NUM=2, MASTER_ADDR=master, MASTER_PORT=8131)
    node0 = subprocess.Popen(command, env=env(NODE_RANK=0, **nodes), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    node1 = subprocess.Popen(on_node1 + command, env=env(NODE_RANK=1, **nodes), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    outputs = [p.communicate(timeout=600)[0] for p in (node0, node1)]
    logs = {rank: out / 'log' / f'node_{rank}' / f'worker_{rank}.log' for rank in (0, 1)}
    assert all(path.is_file() for path in logs.values()), outputs
    logs = {rank: read(path) for rank, path in logs.items()}
    assert (node0.returncode, node1.returncode) == (0, 0), '\n'.join(o[-1500:] for o in outputs) + logs[1][-3000:]
    assert sorted(os.listdir(out / 'log' / 'node_0')) == ['scheduler.log', 'worker_0.log']  # one scheduler
    assert os.listdir(out / 'log' / 'node_1') == ['worker_1.log']
    assert digest(logs[0]) == digest(logs[1])  # gradients all-reduced, BN statistics averaged at the epoch end
    assert all('1 epochs x 3 steps of 2 clips x 2 devices' in log for log in logs.values())
    assert '[rank 1/2]' in logs[1]
    # each rank leaves the process group itself: left to the interpreter's exit, a CPU worker crashed now and then
    assert all('released the process group' in log for log in logs.values())
    # only global rank 0 writes: one config, one log with each step once, one set of checkpoints
    records = [json.loads(line) for line in open(out / 'train_log.jsonl')]
    assert [r['global_step'] for r in records if r['type'] == 'train'] == [1, 2, 3]
    assert [(r['epoch'], r['num_videos']) for r in records if r['type'] == 'val'] == [(1, 12)]
    assert sorted(os.listdir(out / 'checkpoints')) == ['tsm-best.ckpt', 'tsm-best.json', 'tsm-e1.ckpt']
    assert 'saved' in logs[0] and 'saved' not in logs[1]
    assert sorted(os.listdir(out)) == ['checkpoints', 'config.yaml', 'curves.png', 'log', 'train_log.jsonl', 'work']
    for rank in (0, 1):  # each rank in its own working directory, with its environment
        assert f'RANK_ID={rank}\n' in read(out / 'work' / f'rank_{rank}' / 'env.log')
    assert 'HCCL_CONNECT_TIMEOUT=600\n' in read(out / 'work' / 'rank_1' / 'env.log')

    # distributed evaluation (2 workers, the set split) = one device; the single-device script ignores RANK_SIZE=8
    ckpt = str(out / 'checkpoints' / 'tsm-e1.ckpt')
    data = demo[:2] + demo[4:]
    evals = {}
    for name, extra in (('single', dict(RANK_SIZE=8)), ('dist', dict(DEVICE_NUM=2, MASTER_PORT=8132))):
        result = subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'run_eval.sh'), 'CPU', CONFIG, ckpt,
                                 str(tmp_path / name), *TINY, *data, '--batch_size', '4', '--num_crops', '3',
                                 '--mode', 'pynative'],  # forward only: quicker than compiling its graph
                                capture_output=True, text=True, env=env(**extra), timeout=600)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        evals[name] = json.load(open(tmp_path / name / 'eval_results.json'))
    assert all('released the process group' in read(tmp_path / 'dist' / 'log' / f'worker_{rank}.log')
               for rank in (0, 1))
    single, dist = evals['single'], evals['dist']
    assert dist['num_videos'] == single['num_videos'] == 12
    for key in ('top1', 'top5', 'mean_class_acc'):
        assert dist[key] == pytest.approx(single[key])
    for d, s in zip(dist['videos'], single['videos']):
        assert d['video'] == s['video'] and [t['class'] for t in d['top5']] == [t['class'] for t in s['top5']]
        assert [t['logit'] for t in d['top5']] == pytest.approx([t['logit'] for t in s['top5']], rel=1e-4, abs=1e-5)


@pytest.mark.slow
@needs_msrun
def test_a_bad_batch_on_one_rank_is_skipped_on_every_rank_and_a_run_of_them_stops_all(tmp_path, demo):
    """One msrun run of 2 workers, 2 epochs x 3 steps, max_nonfinite_steps 2; only rank 1's network returns NaN, at
    global step 2 (skipped by both ranks; the good step 3 ends that run of skips, training goes on across the epoch
    end) and from step 4 on (steps 4 and 5 in a row: both ranks stop at step 5 with one message each)."""
    out = tmp_path / 'poison'
    result = subprocess.run([MSRUN, '--worker_num=2', '--local_worker_num=2', '--master_port=8133',
                             f'--log_dir={out}/log', '--join=True',
                             os.path.join(ROOT, 'tests', 'fixtures', 'poisoned_train.py'), '--config_path', CONFIG,
                             *TINY, *demo, '--epochs', '2', '--eval_every', '0', '--output_dir', str(out),
                             '--max_nonfinite_steps', '2'],
                            capture_output=True, text=True, env=env(POISON_RANK=1, POISON_STEPS='2,4-'), timeout=600)
    logs = [read(out / 'log' / f'worker_{rank}.log') for rank in (0, 1)]
    assert result.returncode != 0, logs[1][-3000:]
    message = ('2 consecutive steps had a non-finite loss or gradients (by global step 5; max_nonfinite_steps is 2); '
               'every rank stops')
    assert all(log.count(message) == 1 and 'done; weights digest' not in log for log in logs), logs[0][-3000:]
    # rank 0 skipped steps 2, 4 and 5 too: no rank updated on them (the BN statistics are each rank's own mid-epoch)
    digests = [re.findall(r'trainable weights digest (\w+)', log) for log in logs]
    assert len(digests[0]) == 1 and digests[0] == digests[1], digests
    assert all(re.search(r'epoch 1/2 step 3/3 loss \S+ .* skipped 1\b', log) for log in logs)  # went on after 2
    records = [json.loads(line) for line in open(out / 'train_log.jsonl')]
    train = [r for r in records if r['type'] == 'train']
    assert [r['global_step'] for r in train] == [1, 2, 3, 4, 5]
    assert [r['global_step'] for r in train if r['loss'] is None] == [2, 4, 5]  # no updated step in that window
    assert [r['skipped_steps'] for r in train] == [0, 1, 1, 2, 3]
    assert os.listdir(out / 'checkpoints') == ['tsm-e1.ckpt']  # epoch 1 ended normally


@pytest.mark.slow
def test_standalone_training_ignores_an_inherited_distributed_environment(tmp_path, demo):
    out = tmp_path / 'standalone'
    result = subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'run_standalone_train.sh'), 'CPU', CONFIG,
                             str(out), *TINY, *demo[:4], '--epochs', '1', '--eval_every', '0', '--mode', 'pynative',
                             '--batch_size', '12'],  # one step, no graph to compile: the point is the launch
                            capture_output=True, text=True, timeout=600,
                            env=env(RANK_SIZE=8, RANK_ID=5, RANK_TABLE_FILE='/nonexistent/hccl_8p.json'))
    assert result.returncode == 0, result.stdout[-3000:]
    assert '1 epochs x 1 steps of 12 clips x 1 devices' in result.stdout
    assert os.listdir(out / 'checkpoints') == ['tsm-e1.ckpt']


# ------------------------------------------------------------------------------------------------ launcher, dry run
def _dry_run(*args, **extra):
    result = subprocess.run(['bash', LAUNCHER, *args, CONFIG, '/shared/runs/tsm', '--data_root', '/data'],
                            capture_output=True, text=True, env=env(DRY_RUN=1, PYTHON=sys.executable, **extra))
    return result.returncode, result.stdout + result.stderr


def test_msrun_on_node_1_of_2_gets_global_ranks_8_to_15(tmp_path):
    code, out = _dry_run('msrun', '8', 'Ascend', NODE_NUM=2, NODE_RANK=1, MASTER_ADDR='10.0.0.1')
    assert code == 0, out
    assert ('msrun --worker_num=16 --local_worker_num=8 --master_addr=10.0.0.1 --master_port=8118 --node_rank=1 '
            '--log_dir=/shared/runs/tsm/log/node_1 --join=True ' + os.path.join(ROOT, 'train.py')) in out
    assert 'ranks 8..15 of 16' in out
    code, out = _dry_run('msrun', '8', 'Ascend', NODE_NUM=2, NODE_RANK=2)
    assert code != 0 and 'NODE_RANK must be 0..1 (NODE_NUM=2), got' in out


def test_rank_table_on_node_1_of_2_sets_global_rank_local_device_and_table_size(tmp_path):
    table = tmp_path / 'rank_table_16p.json'
    tables = []
    for node in (0, 1):
        conf = tmp_path / f'hccn{node}.conf'
        conf.write_text(''.join(f'address_{d}=192.{node}.27.{d + 6}\n' for d in range(8)))
        tables.append(str(tmp_path / f'node{node}.json'))
        subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'rank_table.py'), 'make', '--server_ip',
                        f'10.0.0.{node + 1}', '--hccn_conf', str(conf), '--out', tables[-1]], check=True)
    subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'rank_table.py'), 'merge', *tables, '--out',
                    str(table)], check=True)
    code, out = _dry_run(str(table), '8', 'Ascend', NODE_NUM=2, NODE_RANK=1)
    assert code == 0, out
    launched = re.findall(r'DRY_RUN: RANK_ID=(\d+) DEVICE_ID=(\d+) RANK_SIZE=(\d+) ', out)
    assert launched == [(str(8 + d), str(d), '16') for d in range(8)]
    assert 'log: /shared/runs/tsm/log/node_1/rank_15.log' in out
    code, out = _dry_run(str(table), '4', 'Ascend', NODE_NUM=2, NODE_RANK=1)
    assert code != 0 and 'DEVICE_NUM is 4 but the rank table lists 8 devices for this server' in out
    code, out = _dry_run(str(table), '8', 'Ascend', NODE_NUM=2, NODE_RANK=1, RANK_START=12)
    assert code != 0 and 'ranks 12..19 exceed the table\'s 16' in out
