"""Training helpers: lr schedule, parameter groups, the train step (clipping, overflow, AMP, counters), partial BN,
checkpoints (keep-k, best, resume state, output_dir safety), callbacks under `Model.train` (non-finite stop,
save before validation, validation cadence, JSON lines), launch detection.

In-process, PyNative by default, on small networks: a one-layer one (`_Linear`, gradients known by hand) and a
conv-BN one (`_ConvBN`: BatchNorm statistics, AMP O2, partial BN, the training state); each builds and runs in about
a second, where a ResNet-18 step takes seconds in PyNative and its graph ~20-50 s to compile. The ResNet-specific
facts (parameter groups, the 20 BatchNorm layers, a training checkpoint loading as a network checkpoint) are checked
on the real network without training it. The train step's own logic (the skip decision, the in-graph counters, loss
scaling, a callback stopping `Model.train`) also runs in graph mode. train.py end to end, in graph mode (the default)
and PyNative: test_train.py and test_train_distributed.py (slow)."""
import json
import os

import numpy as np
import pytest
import mindspore as ms
import mindspore.dataset as ds
from mindspore import nn

from src.checkpoint import CheckpointError, load_checkpoint, read_metadata
from src.models import create_model
from mindspore.train import Model

from src.train_utils import (CheckpointManager, CheckpointSaver, JsonLinesLog, OutputDirError, TrainingStopped,
                             TrainMonitor, Validator, create_lr_schedule, create_optimizer, create_param_groups,
                             create_train_step, freeze_bn_except_first, prepare_output_dir, resolve_amp_level,
                             restore_training_state, save_curves, save_training_state, scale_lr, truncate_log)
from src.train_utils.parallel import device_id_from_env, launched_distributed


# ------------------------------------------------------------------------------------------------ lr schedule
def test_lr_scales_linearly_with_the_global_batch():
    assert scale_lr(0.01, 64, 64) == pytest.approx(0.01)
    assert scale_lr(0.01, 8 * 8, 64) == pytest.approx(0.01)
    assert scale_lr(0.01, 16, 64) == pytest.approx(0.0025)


def test_step_schedule_decays_at_the_given_epochs():
    lr = create_lr_schedule(0.1, 10, 50, schedule='step', lr_steps=[20, 40], lr_decay=0.1)
    assert lr.shape == (500,) and lr.dtype == np.float32
    assert lr[0] == pytest.approx(0.1) and lr[199] == pytest.approx(0.1)
    assert lr[200] == pytest.approx(0.01) and lr[399] == pytest.approx(0.01)
    assert lr[400] == pytest.approx(0.001) and lr[-1] == pytest.approx(0.001)


def test_cosine_schedule_with_linear_warmup():
    lr = create_lr_schedule(0.2, 4, 10, schedule='cosine', warmup_epochs=2)
    cosine = 0.2 * 0.5 * (1 + np.cos(np.pi * np.arange(40) / 40))
    warm = np.arange(1, 9) / 8
    np.testing.assert_allclose(lr[:8], cosine[:8] * warm, rtol=1e-6)
    np.testing.assert_allclose(lr[8:], cosine[8:], rtol=1e-6)
    assert lr[0] == pytest.approx(0.2 / 8) and lr[-1] < 0.2 * 0.01


def test_schedule_rejects_unknown_names():
    with pytest.raises(ValueError, match='lr_schedule'):
        create_lr_schedule(0.1, 1, 1, schedule='poly')


# ------------------------------------------------------------------------------------------------ param groups
def _groups_by_mult(net, from_imagenet):
    lr = np.full(3, 0.1, np.float32)
    groups = create_param_groups(net.trainable_params(), lr, 5e-4, from_imagenet)
    return {round(float(g['lr'].asnumpy()[0]) / 0.1): g for g in groups if g['params']}, groups


@pytest.mark.parametrize('from_imagenet', [False, True])
def test_param_groups_follow_the_reference_recipe(from_imagenet):
    net = create_model('tsm', depth=18, num_classes=5, num_segments=2)
    _, groups = _groups_by_mult(net, from_imagenet)
    seen = [p.name for g in groups for p in g['params']]
    assert sorted(seen) == sorted(p.name for p in net.trainable_params())  # every parameter exactly once
    where = {p.name: (round(float(g['lr'].asnumpy()[0]) / 0.1), g['weight_decay']) for g in groups
             for p in g['params']}
    assert where['base_model.conv1.weight'] == (1, 5e-4)
    assert where['base_model.layer1.0.conv1.net.weight'] == (1, 5e-4)
    assert where['base_model.bn1.gamma'] == (1, 0.0) and where['base_model.layer4.1.bn2.beta'] == (1, 0.0)
    if from_imagenet:
        assert where['new_fc.weight'] == (5, 5e-4) and where['new_fc.bias'] == (10, 0.0)
    else:
        assert where['new_fc.weight'] == (1, 5e-4) and where['new_fc.bias'] == (2, 0.0)


def test_group_lr_follows_the_schedule_step_by_step():
    net = create_model('tsn', depth=18, num_classes=3, num_segments=2)
    lr = create_lr_schedule(0.1, 2, 2, schedule='step', lr_steps=[1])
    groups = create_param_groups(net.trainable_params(), lr, 0.0, True)
    bias = [g for g in groups if any(p.name == 'new_fc.bias' for p in g['params'])][0]
    np.testing.assert_allclose(bias['lr'].asnumpy(), [1.0, 1.0, 0.1, 0.1], rtol=1e-6)


# ------------------------------------------------------------------------------------------------ train step
class _Linear(nn.Cell):
    """y = x W^T, a network whose gradient we know."""

    def __init__(self, weight):
        super().__init__()
        self.dense = nn.Dense(weight.shape[1], weight.shape[0], weight_init=ms.Tensor(weight), has_bias=False)

    def construct(self, x):
        return self.dense(x)


class _ConvBN(nn.Cell):
    """conv -> BN -> ReLU -> conv -> BN -> mean -> dense: the parts of a video network the train step treats apart
    (BatchNorm statistics, float32 BatchNorm under AMP O2), in a graph small enough to compile and run at once."""

    def __init__(self, num_classes=3):
        super().__init__()
        self.conv1 = nn.Conv2d(6, 4, 3, weight_init='he_uniform')
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 3, weight_init='he_uniform')
        self.bn2 = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.new_fc = nn.Dense(4, num_classes)

    def construct(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        return self.new_fc(self.relu(self.bn2(self.conv2(x))).mean(axis=(2, 3)))


def _one_step(clip_grad_norm, scale=100.0, amp_level='O0', x=None):
    weight = np.zeros((2, 4), np.float32)
    net = _Linear(weight)
    lr = np.ones(1, np.float32)
    opt = create_optimizer(net, lr, momentum=0.0, weight_decay=0.0)
    step = create_train_step(net, opt, loss_fn=nn.MSELoss(), clip_grad_norm=clip_grad_norm, amp_level=amp_level)
    x = np.full((1, 4), scale, np.float32) if x is None else x
    outputs = step(ms.Tensor(x), ms.Tensor(np.full((1, 2), 1.0, np.float32)))
    delta = net.dense.weight.asnumpy() - weight
    return outputs, delta


def test_gradient_norm_clipping_is_applied():
    # loss = mean((xW^T - 1)^2) at W = 0: dL/dW = -(2/2) * 1 * x per row -> norm = sqrt(2 * 4) * 100
    (loss, overflow, _, grad_norm), delta = _one_step(clip_grad_norm=0.0)
    raw = np.sqrt(8) * 100
    assert float(grad_norm.asnumpy()) == pytest.approx(raw, rel=1e-5)
    assert np.linalg.norm(delta) == pytest.approx(raw, rel=1e-5) and not bool(overflow.asnumpy())
    (_, _, _, grad_norm), delta = _one_step(clip_grad_norm=20.0)
    assert float(grad_norm.asnumpy()) == pytest.approx(raw, rel=1e-5)  # reported before clipping
    assert np.linalg.norm(delta) == pytest.approx(20.0, rel=1e-5)  # update with lr 1 = the clipped gradient
    np.testing.assert_allclose(delta / np.linalg.norm(delta), np.full((2, 4), 1 / np.sqrt(8)), rtol=1e-5)  # -grad


def test_non_finite_gradients_skip_the_update_and_are_counted():  # graph mode: the Model.train stop below
    x = np.array([[np.inf, 1, 1, 1]], np.float32)
    (loss, overflow, _, _), delta = _one_step(clip_grad_norm=20.0, x=x)
    assert bool(overflow.asnumpy()) and not np.isfinite(float(loss.asnumpy()))
    assert np.all(delta == 0)


def test_counters_average_the_loss_of_updated_steps_and_count_skipped_runs(mode):
    net = _Linear(np.zeros((2, 4), np.float32))
    opt = create_optimizer(net, np.zeros(8, np.float32), momentum=0.0, weight_decay=0.0)  # lr 0: W stays 0
    step = create_train_step(net, opt, loss_fn=nn.MSELoss(), clip_grad_norm=0.0)
    y = ms.Tensor(np.full((1, 2), 1.0, np.float32))
    good, bad = ms.Tensor(np.zeros((1, 4), np.float32)), ms.Tensor(np.full((1, 4), np.nan, np.float32))
    for x in (good, bad, bad, good, bad):  # loss at W = 0 is mean((0 - 1)^2) = 1 on good steps
        step(x, y)
    assert step.stats() == (pytest.approx(1.0), 2, 3, 2)  # mean loss, updated, skipped, longest run of skips
    mean, updated, skipped, longest = step.stats()  # the loss window restarts; skip counters keep counting
    assert np.isnan(mean) and (updated, skipped, longest) == (0, 3, 2)


@pytest.mark.parametrize('mode, dynamic', [('pynative', False), ('pynative', True), ('graph', True)])
def test_an_overflowing_step_is_skipped_counted_and_halves_a_dynamic_scale_and_updates_are_unscaled(mode, dynamic,
                                                                                                   run_in_mode):
    run_in_mode(mode, lambda: _overflow_then_unscaled_update(dynamic))  # graph, fixed scale: train.py (O0: 1.0)


def _overflow_then_unscaled_update(dynamic):
    net = _Linear(np.zeros((2, 4), np.float32))
    opt = create_optimizer(net, np.ones(4, np.float32), momentum=0.0, weight_decay=0.0)
    step = create_train_step(net, opt, loss_fn=nn.MSELoss(), clip_grad_norm=0.0, amp_level='O3', loss_scale=64.0,
                             dynamic_loss_scale=dynamic)
    y = ms.Tensor(np.ones((1, 2), np.float32))
    # at W = 0 the loss is 1, its gradient -x = -3000 per entry, scaled by 64 beyond float16's 65504: overflow
    loss, overflow, _, _ = step(ms.Tensor(np.full((1, 4), 3000.0, np.float32)), y)
    scale = 32.0 if dynamic else 64.0
    assert float(loss.asnumpy()) == 1.0
    assert bool(overflow.asnumpy()) and float(step.scale_sense.asnumpy()) == scale
    assert np.all(net.dense.weight.asnumpy() == 0) and step.stats()[2:] == (1, 1)
    # dL/dW = -(Wx - 1) x = -0.5 per entry at W = 0: the update is the unscaled gradient (float16 weights with O3)
    _, overflow, used, _ = step(ms.Tensor(np.full((1, 4), 0.5, np.float32)), y)
    assert not bool(overflow.asnumpy()) and float(used.asnumpy()) == scale == float(step.scale_sense.asnumpy())
    np.testing.assert_allclose(net.dense.weight.asnumpy().astype(np.float32), np.full((2, 4), 0.5), rtol=1e-3)


def test_on_ascend_and_gpu_the_overflow_comes_from_mindsporess_status_api(run_in_mode):
    """Off CPU the step must ask MindSpore's float-status path (910A saturates float16 instead of making inf).

    PyNative: the stand-in for the status API is a Python function."""
    net = _Linear(np.zeros((2, 4), np.float32))
    opt = create_optimizer(net, np.ones(2, np.float32), momentum=0.0, weight_decay=0.0)
    step = create_train_step(net, opt, loss_fn=nn.MSELoss(), clip_grad_norm=0.0)
    calls = []

    def status_api(status, grads):  # what the Ascend registers would say: overflow although grads are finite
        calls.append(status.shape)
        return ms.Tensor(True)

    step.ieee_overflow, step.get_overflow_status = False, status_api
    _, overflow, _, _ = run_in_mode('pynative', lambda: step(ms.Tensor(np.ones((1, 4), np.float32)),
                                                             ms.Tensor(np.ones((1, 2), np.float32))))
    assert calls == [(8,)] and bool(overflow.asnumpy())  # the 8-word status buffer of start_overflow_check
    assert np.all(net.dense.weight.asnumpy() == 0)


def test_amp_o2_with_dynamic_loss_scale_trains_and_halves_the_scale_on_overflow():
    """Convolutions and the classifier in float16, BatchNorm kept float32 (the TSM network's forward under O1-O3:
    tests/models/test_tsm.py)."""
    net = _ConvBN()
    opt = create_optimizer(net, np.full(3, 0.01, np.float32), weight_decay=0.0)
    step = create_train_step(net, opt, amp_level='O2', loss_scale=1024.0, dynamic_loss_scale=True)
    clip = np.random.default_rng(0).standard_normal((2, 6, 8, 8)).astype(np.float32)
    label = ms.Tensor(np.array([0, 2], np.int32))
    before = net.new_fc.weight.asnumpy().copy()
    loss, overflow, scale, _ = step(ms.Tensor(clip), label)
    assert np.isfinite(float(loss.asnumpy())) and not bool(overflow.asnumpy())
    assert float(scale.asnumpy()) == 1024.0 and not np.array_equal(net.new_fc.weight.asnumpy(), before)
    clip[0, 0, 0, 0] = np.inf
    before = net.new_fc.weight.asnumpy().copy()
    _, overflow, _, _ = step(ms.Tensor(clip), label)
    assert bool(overflow.asnumpy()) and float(step.scale_sense.asnumpy()) == 512.0
    assert np.array_equal(net.new_fc.weight.asnumpy(), before)


def test_amp_level_auto_is_o0_on_cpu_only():
    assert resolve_amp_level('auto', 'CPU') == 'O0'
    assert resolve_amp_level('auto', 'Ascend') == 'O2' and resolve_amp_level('auto', 'GPU') == 'O2'
    assert resolve_amp_level('O3', 'CPU') == 'O3'
    with pytest.raises(ValueError):
        resolve_amp_level('O4', 'CPU')


def test_partial_bn_freezes_all_but_the_first_batchnorm():
    net = create_model('tsn', depth=18, num_classes=3, num_segments=2, dropout=0.0)
    frozen = freeze_bn_except_first(net)
    assert len(frozen) == 19 and 'base_model.bn1' not in frozen  # ResNet-18: 20 BN layers
    trainable = {p.name for p in net.trainable_params()}
    assert 'base_model.bn1.gamma' in trainable and 'base_model.layer1.0.bn1.gamma' not in trainable
    # what a training step does to them (the same BatchNorm cells, in a network that runs a step at once)
    net = _ConvBN()
    assert freeze_bn_except_first(net) == ['bn2']
    params = {p.name: p for p in net.get_parameters()}
    names = ('bn1.moving_mean', 'bn1.beta', 'bn2.moving_mean', 'bn2.moving_variance', 'bn2.beta', 'bn2.gamma')
    before = {n: params[n].asnumpy().copy() for n in names}
    opt = create_optimizer(net, np.full(2, 0.1, np.float32))
    step = create_train_step(net, opt)
    clip = ms.Tensor(np.random.default_rng(0).standard_normal((2, 6, 8, 8)).astype(np.float32) + 1)
    step(clip, ms.Tensor(np.array([0, 1], np.int32)))
    for name in ('bn1.moving_mean', 'bn1.beta'):
        assert not np.array_equal(params[name].asnumpy(), before[name]), name
    for name in names[2:]:
        assert np.array_equal(params[name].asnumpy(), before[name]), name


# ------------------------------------------------------------------------------------------------ checkpoints
def _tiny_train_step(net=None):
    """A training state with every kind of entry: weights, BN statistics, moments, the step, the loss scale."""
    net = net or _ConvBN()
    opt = create_optimizer(net, create_lr_schedule(0.1, 2, 3), weight_decay=1e-4)
    return net, create_train_step(net, opt)


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    return (ms.Tensor(rng.standard_normal((2, 6, 8, 8)).astype(np.float32)),
            ms.Tensor(np.array([0, 2], np.int32)))


def test_training_state_round_trip_restores_weights_moments_and_step(tmp_path):
    net, step = _tiny_train_step()
    step(*_batch(0))
    step(*_batch(1))
    path = save_training_state(step, str(tmp_path / 'tsm-e1.ckpt'), epoch=1, step=2)
    assert os.listdir(tmp_path) == ['tsm-e1.ckpt']  # no temp file left behind
    net2, step2 = _tiny_train_step()
    assert restore_training_state(step2, path) == (1, 2)
    state = {p.name: p for p in step.get_parameters()}
    state2 = {p.name: p for p in step2.get_parameters()}
    assert int(state2['global_step'].asnumpy()) == 2
    moments = [n for n in state if n.startswith('moments.')]
    assert len(moments) == len(net.trainable_params())
    for name in moments + ['bn2.moving_mean', 'bn2.moving_variance', 'new_fc.weight']:
        np.testing.assert_array_equal(state2[name].asnumpy(), state[name].asnumpy())
    assert np.abs(state['moments.new_fc.weight'].asnumpy()).max() > 0  # a state worth restoring
    # identical state -> identical next step
    loss1 = step(*_batch(2))[0].asnumpy()
    loss2 = step2(*_batch(2))[0].asnumpy()
    assert loss1 == loss2
    np.testing.assert_array_equal(net.new_fc.weight.asnumpy(), net2.new_fc.weight.asnumpy())


def test_a_training_checkpoint_is_also_a_network_checkpoint_for_eval_and_export(tmp_path):
    net, step = _tiny_train_step(create_model('tsm', depth=18, num_classes=3, num_segments=2))
    path = save_training_state(step, str(tmp_path / 'tsm-e1.ckpt'), epoch=1, step=2)
    net2 = create_model('tsm', depth=18, num_classes=3, num_segments=2)
    assert not np.array_equal(net2.new_fc.weight.asnumpy(), net.new_fc.weight.asnumpy())  # two random draws
    assert not load_checkpoint(net2, path)  # strict: every parameter found; the optimizer's entries ignored
    for p, p2 in zip(net.get_parameters(), net2.get_parameters()):
        assert p.name == p2.name and np.array_equal(p.asnumpy(), p2.asnumpy()), p.name


def test_resume_refuses_a_weights_only_checkpoint(tmp_path):
    net, step = _tiny_train_step()
    manager = CheckpointManager(str(tmp_path), 'tsm')
    assert manager.save_best(net, 1, {'top1': 50.0})
    with pytest.raises(CheckpointError, match='not a training checkpoint'):
        restore_training_state(step, str(tmp_path / 'tsm-best.ckpt'))


@pytest.mark.parametrize('damage', ['truncated', 'empty'])
def test_resume_from_a_damaged_checkpoint_names_the_file(tmp_path, damage):
    net, step = _tiny_train_step()
    path = save_training_state(step, str(tmp_path / 'tsm-e1.ckpt'), epoch=1, step=2)
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2] if damage == 'truncated' else b'')
    message = 'cannot read as a MindSpore checkpoint' if damage == 'truncated' else 'no parameters in'
    with pytest.raises(CheckpointError, match=f'{message} .*tsm-e1.ckpt|tsm-e1.ckpt: {message}'):
        restore_training_state(step, path)


def test_checkpoints_record_the_runs_network(tmp_path):
    net, step = _tiny_train_step()
    metadata = {'arch': 'tsm', 'model': '{"num_segments": 2}', 'config_sha1': 'c0ffee'}
    manager = CheckpointManager(str(tmp_path), 'tsm', metadata=metadata)
    assert read_metadata(manager.save(step, 1, 2)) == metadata
    assert manager.save_best(net, 1, {'top1': 50.0})
    assert read_metadata(str(tmp_path / 'tsm-best.ckpt')) == metadata
    assert restore_training_state(step, str(tmp_path / 'tsm-e1.ckpt')) == (1, 2)  # the text entries do not disturb


def test_manager_keeps_the_last_k_and_the_best(tmp_path):
    net, step = _tiny_train_step()
    manager = CheckpointManager(str(tmp_path), 'tsn', keep=2)
    assert manager.last() is None
    for epoch in (1, 2, 3):
        manager.save(step, epoch, epoch * 2)
    assert [e for e, _ in manager.epoch_checkpoints()] == [2, 3]
    assert manager.last().endswith('tsn-e3.ckpt')
    assert manager.save_best(net, 1, {'top1': 40.0}) and not manager.save_best(net, 2, {'top1': 40.0})
    assert manager.save_best(net, 3, {'top1': 60.0})
    with open(tmp_path / 'tsn-best.json') as f:
        assert json.load(f)['epoch'] == 3
    assert sorted(os.listdir(tmp_path)) == ['tsn-best.ckpt', 'tsn-best.json', 'tsn-e2.ckpt', 'tsn-e3.ckpt']


# ------------------------------------------------------------------------------------------------ callbacks
def _linear_train_step():
    """The callbacks' subject: a train step under `Model.train`, whatever the network (a one-layer one here)."""
    net = _Linear(np.zeros((2, 4), np.float32))
    opt = create_optimizer(net, create_lr_schedule(0.1, 2, 3), weight_decay=1e-4)
    return net, create_train_step(net, opt, loss_fn=nn.MSELoss())


def _dataset(num=4):
    """`num` samples in batches of 2 (2 steps per epoch with the default)."""
    x = np.random.default_rng(0).standard_normal((num, 4)).astype(np.float32)
    return ds.NumpySlicesDataset((x, np.ones((num, 2), np.float32)), ['x', 'y'], shuffle=False).batch(2)


def _metrics(top1):
    return {'top1': top1, 'top5': 100.0, 'mean_class_acc': 5.0, 'num_videos': 4}


def test_model_train_logs_json_lines_and_validates_every_k_epochs_and_at_the_end(tmp_path):
    net, step = _linear_train_step()
    lr = create_lr_schedule(0.1, 2, 3)
    log = JsonLinesLog(str(tmp_path / 'log.jsonl'))
    calls = []
    validator = Validator(lambda: calls.append(1) or _metrics(10.0 * len(calls)), 2, 3, 2, log)
    monitor = TrainMonitor(step, lr, 2, 2, 3, log_every=1, log=log)
    Model(step).train(3, _dataset(), callbacks=[monitor, validator], dataset_sink_mode=True)
    assert len(calls) == 2  # after epochs 2 and 3 (the last)
    records = [json.loads(line) for line in open(tmp_path / 'log.jsonl')]
    train = [r for r in records if r['type'] == 'train']
    assert [r['global_step'] for r in train] == [1, 2, 3, 4, 5, 6]
    assert train[0]['clips_per_s'] is None and all(r['clips_per_s'] > 0 for r in train[1:])  # 1st: compilation
    assert train[-1]['lr'] == pytest.approx(float(lr[5])) and all(np.isfinite(r['loss']) for r in train)
    assert [(r['epoch'], r['global_step'], r['top1']) for r in records if r['type'] == 'val'] == [(2, 4, 10.0),
                                                                                                (3, 6, 20.0)]
    assert save_curves(str(tmp_path / 'log.jsonl'), str(tmp_path / 'c.png')) in (None, str(tmp_path / 'c.png'))


class _Context:
    """What MindSpore hands a callback: `original_args()` with the step counter and the last outputs."""

    def __init__(self, **args):
        self.args = type('Args', (), args)

    def original_args(self):
        return self.args


def test_monitor_under_sinking_reads_the_whole_sink_at_once(tmp_path):
    """One call per epoch (dataset sinking): the line averages every updated step of the sink."""
    net = _Linear(np.zeros((2, 4), np.float32))
    step = create_train_step(net, create_optimizer(net, np.zeros(8, np.float32), weight_decay=0.0),
                             loss_fn=nn.MSELoss(), clip_grad_norm=0.0)
    log = JsonLinesLog(str(tmp_path / 'log.jsonl'))
    monitor = TrainMonitor(step, np.full(8, 0.5, np.float32), 1, 4, 2, start_step=4, log_every=100, log=log)
    y = ms.Tensor(np.ones((1, 2), np.float32))
    for value in (0.0, 0.0, np.nan, 0.0):  # epoch 2 of a resumed run: 3 updated steps of loss 1, one skipped
        outputs = step(ms.Tensor(np.full((1, 4), value, np.float32)), y)
    monitor.on_train_step_end(_Context(cur_step_num=4, net_outputs=outputs))
    (record,) = [json.loads(line) for line in open(tmp_path / 'log.jsonl')]
    assert (record['epoch'], record['step'], record['global_step']) == (2, 4, 8)
    assert record['loss'] == pytest.approx(1.0) and record['skipped_steps'] == 1


def test_consecutive_non_finite_steps_stop_the_run_with_one_message(mode):
    net = _Linear(np.zeros((2, 4), np.float32))
    lr = create_lr_schedule(0.1, 4, 1)
    step = create_train_step(net, create_optimizer(net, lr), loss_fn=nn.MSELoss())
    x = np.ones((8, 4), np.float32)
    x[2:] = np.nan  # steps 2, 3 and 4 of the epoch are non-finite (ReLU networks would hide a NaN input)
    data = ds.NumpySlicesDataset((x, np.ones((8, 2), np.float32)), ['x', 'y'], shuffle=False).batch(2)
    monitor = TrainMonitor(step, lr, 2, 4, 1, log_every=1, max_nonfinite_steps=2)
    with pytest.raises(TrainingStopped, match=r'^2 consecutive steps had a non-finite loss or gradients \(by global '
                                              r'step 3; max_nonfinite_steps is 2\); every rank stops'):
        Model(step).train(1, data, callbacks=[monitor], dataset_sink_mode=False)
    assert np.all(np.isfinite(net.dense.weight.asnumpy()))  # the weights of step 1 only


def test_the_epoch_is_saved_before_a_failing_validation_stops_the_run(tmp_path):
    net, step = _linear_train_step()
    manager = CheckpointManager(str(tmp_path), 'tsm')

    def broken_validation():
        raise FileNotFoundError('val/video_7: no frames')

    callbacks = [CheckpointSaver(manager, step, 2), Validator(broken_validation, 1, 2, 2, JsonLinesLog(None),
                                                              manager, net)]
    with pytest.raises(TrainingStopped, match=r'validation after epoch 1 failed: val/video_7: no frames\. The '
                                              r'checkpoint of epoch 1 was saved before it.*--resume last'):
        Model(step).train(2, _dataset(), callbacks=callbacks)
    assert restore_training_state(step, manager.last()) == (1, 2)


def test_a_failed_best_save_is_reported_and_training_goes_on(tmp_path, caplog):
    net, step = _linear_train_step()
    manager = CheckpointManager(str(tmp_path), 'tsm')

    def full_disk(*args):
        raise OSError(28, 'No space left on device')

    manager.save_best = full_disk
    callbacks = [CheckpointSaver(manager, step, 2), Validator(lambda: _metrics(50.0), 1, 2, 2, JsonLinesLog(None),
                                                              manager, net)]
    with caplog.at_level('ERROR'):
        Model(step).train(2, _dataset(), callbacks=callbacks)
    assert [e for e, _ in manager.epoch_checkpoints()] == [1, 2]
    assert caplog.text.count('saving the best checkpoint failed ([Errno 28] No space left on device)') == 2


def test_a_failed_epoch_save_stops_every_rank_that_agrees(tmp_path):
    net, step = _linear_train_step()
    votes = []
    saver = CheckpointSaver(None, step, 2, agree=lambda failed: votes.append(failed) or True)  # rank 0 failed
    with pytest.raises(TrainingStopped, match='saving the checkpoint of epoch 1 failed on rank 0; every rank stops'):
        Model(step).train(2, _dataset(), callbacks=[saver])
    assert votes == [False]  # this rank (not the writer) had nothing to save


def test_resumed_model_train_starts_at_the_saved_epoch():
    net, step = _linear_train_step()
    seen = []
    monitor = TrainMonitor(step, create_lr_schedule(0.1, 2, 3), 2, 2, 3, start_step=4, log_every=1)
    monitor.report = lambda global_step, outputs: seen.append(global_step)
    Model(step).train(3, _dataset(), callbacks=[monitor], initial_epoch=2)
    assert seen == [5, 6]


# ------------------------------------------------------------------------------------------------ output_dir
def _earlier_run(directory):
    (directory / 'checkpoints').mkdir(parents=True)
    (directory / 'checkpoints' / 'tsm-e3.ckpt').write_bytes(b'run A')
    (directory / 'train_log.jsonl').write_text('{"type": "train", "global_step": 1}\n')
    (directory / 'config.yaml').write_text('arch: tsm\n')


def test_an_output_dir_with_an_earlier_run_is_refused(tmp_path):
    _earlier_run(tmp_path)
    with pytest.raises(OutputDirError, match=r'already holds a run \(checkpoints/tsm-e3\.ckpt, train_log\.jsonl\)'
                                             r'\. Continue it with --resume last, start afresh with --overwrite'):
        prepare_output_dir(str(tmp_path))
    assert (tmp_path / 'checkpoints' / 'tsm-e3.ckpt').read_bytes() == b'run A'
    assert prepare_output_dir(str(tmp_path), resume='last') is None  # resuming keeps everything
    assert prepare_output_dir(str(tmp_path / 'fresh')) is None


def test_overwrite_moves_the_earlier_run_aside_and_only_rank_0_moves(tmp_path):
    _earlier_run(tmp_path)
    assert prepare_output_dir(str(tmp_path), overwrite=True, writer=False) is None
    assert (tmp_path / 'checkpoints' / 'tsm-e3.ckpt').exists()
    moved = prepare_output_dir(str(tmp_path), overwrite=True, now=0)
    assert moved == str(tmp_path / 'previous' / __import__('time').strftime('%Y%m%d-%H%M%S',
                                                                             __import__('time').localtime(0)))
    assert sorted(os.listdir(moved)) == ['checkpoints', 'config.yaml', 'train_log.jsonl']
    assert (tmp_path / 'previous').is_dir() and not (tmp_path / 'checkpoints').exists()
    with open(os.path.join(moved, 'checkpoints', 'tsm-e3.ckpt'), 'rb') as f:
        assert f.read() == b'run A'
    assert prepare_output_dir(str(tmp_path)) is None  # now empty of runs: a new run may start


def test_stale_temporaries_of_a_killed_save_are_removed_on_start(tmp_path, caplog):
    ckpts = tmp_path / 'checkpoints'
    ckpts.mkdir()
    (ckpts / 'tsm-e1.ckpt').write_bytes(b'good')
    (ckpts / '.tsm-e2.ckpt.a1b2.tmp.ckpt').write_bytes(b'half')
    (ckpts / 'tsm-best.json.tmp').write_text('{')
    with caplog.at_level('WARNING'):
        prepare_output_dir(str(tmp_path), resume='last')
    assert os.listdir(ckpts) == ['tsm-e1.ckpt'] and caplog.text.count('left by an interrupted save') == 2


def test_resuming_drops_log_lines_written_after_the_checkpoint(tmp_path):
    path = tmp_path / 'train_log.jsonl'
    path.write_text(''.join(json.dumps({'type': 'train', 'global_step': s}) + '\n' for s in (3, 6, 7, 8)))
    assert truncate_log(str(path), 6) == 2
    assert [json.loads(line)['global_step'] for line in open(path)] == [3, 6]


def test_save_curves_says_so_without_matplotlib(tmp_path, monkeypatch, caplog):
    import sys
    monkeypatch.setitem(sys.modules, 'matplotlib', None)
    (tmp_path / 'log.jsonl').write_text('')
    with caplog.at_level('INFO'):
        assert save_curves(str(tmp_path / 'log.jsonl'), str(tmp_path / 'c.png')) is None
    assert 'matplotlib is not installed' in caplog.text


# ------------------------------------------------------------------------------------------------ launchers
def test_distributed_launch_is_detected_from_the_environment():
    assert not launched_distributed({})
    assert not launched_distributed({'RANK_SIZE': '1'})
    assert launched_distributed({'MS_WORKER_NUM': '2'})
    assert launched_distributed({'RANK_SIZE': '8', 'RANK_TABLE_FILE': '/x.json'})
    assert launched_distributed({'OMPI_COMM_WORLD_SIZE': '4'})
    assert device_id_from_env({'DEVICE_ID': '3'}) == 3 and device_id_from_env({}) is None


def test_bn_statistics_are_averaged_over_ranks():
    from src.train_utils import average_bn_statistics
    net = create_model('tsn', depth=18, num_classes=3, num_segments=2)
    stats = {p.name: p for p in net.get_parameters() if 'moving_' in p.name}
    for p in stats.values():
        p.set_data(ms.Tensor(np.full(p.shape, 2.0, np.float32)))
    weight = net.new_fc.weight.asnumpy().copy()
    other_rank = lambda flat: flat + np.full_like(flat, 4.0)  # noqa: E731  (the other rank holds 4.0 everywhere)
    assert average_bn_statistics(net, 2, other_rank) == len(stats) == 40
    assert all(np.all(p.asnumpy() == 3.0) for p in stats.values())
    assert np.array_equal(net.new_fc.weight.asnumpy(), weight)
    assert average_bn_statistics(net, 1) == 0
