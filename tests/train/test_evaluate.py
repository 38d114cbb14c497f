"""Metrics over the whole set: views averaged, padding masked, shards merged exactly once, top-1/5/mean class."""
import numpy as np
import pytest
import mindspore as ms
import mindspore.dataset as ds
from mindspore import nn

from src.data import eval_rows
from src.evaluate import MultiViewClassifier, evaluate, gather_predictions, predict
from src.metrics import compute_metrics, top_predictions


class _MeanPerChannel(nn.Cell):
    """(N, C, H, W) -> (N, C) spatial means: a network whose logits are known."""

    def construct(self, x):
        return x.mean(axis=(2, 3))


def _views(num_videos, num_views, num_classes, seed=0):
    return np.random.default_rng(seed).standard_normal((num_videos, num_views, num_classes, 2, 2)).astype(np.float32)


def _eval_dataset(views, labels, batch_size, num_shards=1, shard_id=0):
    """What create_dataset(training=False) yields: this shard's rows, padded with index -1 and zero views."""
    rows = eval_rows(len(views), batch_size, num_shards, shard_id)
    clips = np.stack([views[r] if r >= 0 else np.zeros_like(views[0]) for r in rows])
    label = np.array([labels[r] if r >= 0 else 0 for r in rows], np.int32)
    return ds.NumpySlicesDataset((clips, label, rows.astype(np.int32)), ['clip', 'label', 'index'],
                                 shuffle=False).batch(batch_size)


def test_multi_view_logits_are_averaged():
    views = _views(3, 6, 4)
    logits = MultiViewClassifier(_MeanPerChannel())(ms.Tensor(views)).asnumpy()
    np.testing.assert_allclose(logits, views.mean(axis=(3, 4)).mean(axis=1), rtol=1e-5, atol=1e-6)


def test_wrapping_keeps_the_parameter_names():
    from src.models import create_model
    net = create_model('tsn', depth=18, num_classes=3, num_segments=2)
    names = [p.name for p in net.get_parameters()]
    MultiViewClassifier(net)
    assert [p.name for p in net.get_parameters()] == names and 'new_fc.weight' in names


def test_metrics_by_hand():
    scores = np.array([[9, 1, 0, 0, 0, 0],   # label 0: top-1 hit
                       [0, 1, 9, 8, 7, 6],   # label 1: top-5 hit only (rank 6 -> miss; rank 5 -> hit)
                       [0, 9, 1, 2, 3, 4],   # label 0: miss in top-5 (rank 6)
                       [0, 0, 9, 0, 0, 0]],  # label 2: hit
                      np.float32)
    labels = np.array([0, 1, 0, 2])
    m = compute_metrics(scores, labels)
    assert m['top1'] == pytest.approx(50.0) and m['num_videos'] == 4
    assert m['top5'] == pytest.approx(75.0)
    # per class top-1: class 0 -> 1/2, class 1 -> 0, class 2 -> 1 -> mean 50; differs from top-1 when unbalanced
    assert m['mean_class_acc'] == pytest.approx(50.0)
    m = compute_metrics(scores[[0, 1, 3]], labels[[0, 1, 3]])
    assert m['top1'] == pytest.approx(200 / 3) and m['mean_class_acc'] == pytest.approx(200 / 3)
    m = compute_metrics(scores[[0, 2, 3]], labels[[0, 2, 3]])
    assert m['top1'] == pytest.approx(200 / 3) and m['mean_class_acc'] == pytest.approx(75.0)


def test_top5_with_fewer_than_five_classes_and_top_predictions():
    scores = np.array([[0.1, 0.3, 0.2]], np.float32)
    assert compute_metrics(scores, np.array([0]))['top5'] == 100.0
    assert top_predictions(scores) == [[(1, pytest.approx(0.3)), (2, pytest.approx(0.2)), (0, pytest.approx(0.1))]]


def test_padding_is_masked_and_every_video_counted_once():
    views, labels = _views(7, 3, 5), np.arange(7) % 5
    classifier = MultiViewClassifier(_MeanPerChannel())
    rows, logits, got_labels = predict(classifier, _eval_dataset(views, labels, batch_size=4))
    assert sorted(rows) == list(range(7))  # 8 rows, the padding row dropped
    metrics, (scores, all_labels, seen) = evaluate(classifier, _eval_dataset(views, labels, 4), 7, 5)
    np.testing.assert_allclose(scores, views.mean(axis=(3, 4)).mean(axis=1), rtol=1e-5, atol=1e-6)
    assert list(all_labels) == list(labels) and seen.all() and metrics['num_videos'] == 7


def test_sharded_predictions_all_reduced_equal_the_single_process_result():
    views, labels = _views(11, 2, 6, seed=1), np.arange(11) % 6
    classifier = MultiViewClassifier(_MeanPerChannel())
    single, (scores, _, _) = evaluate(classifier, _eval_dataset(views, labels, 2), 11, 6)
    shards = [predict(classifier, _eval_dataset(views, labels, 2, 3, k)) for k in range(3)]
    tables = []

    def fake_all_reduce(table):  # what all_reduce_sum returns: the sum of every rank's table
        tables.append(table)
        return sum(tables) if len(tables) == 3 else table

    for shard in shards:
        merged = gather_predictions(*shard, 11, 6, all_reduce=fake_all_reduce, allow_missing=True)
    merged_scores, merged_labels, seen = merged
    assert seen.all()
    np.testing.assert_allclose(merged_scores, scores, rtol=1e-6)
    assert compute_metrics(merged_scores, merged_labels) == {k: v for k, v in single.items() if k != 'num_missing'}


def test_missing_or_repeated_videos_are_refused():
    logits = np.zeros((3, 4), np.float32)
    with pytest.raises(RuntimeError, match='1 missing, 0 seen more than once'):
        gather_predictions(np.array([0, 1, 2]), logits, np.zeros(3, np.int64), 4, 4)
    with pytest.raises(RuntimeError, match='0 missing, 1 seen more than once'):
        gather_predictions(np.array([0, 1, 1]), logits, np.zeros(3, np.int64), 2, 4)
    scores, labels, seen = gather_predictions(np.array([0, 2, 3]), logits, np.array([1, 2, 3]), 4, 4,
                                              allow_missing=True)  # skipped bad sample
    assert list(seen) == [True, False, True, True] and list(labels[seen]) == [1, 2, 3]
