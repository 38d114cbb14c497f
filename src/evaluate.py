"""Whole-set video classification metrics: multi-view logits averaged, padding masked, results all-reduced.

Every rank predicts its shard of the eval set (`create_dataset(..., training=False)` pads shards with index -1);
the predictions are scattered into one `(num_videos, K + 2)` table (logits, label, count) that an all-reduce sums,
so every rank ends with the same full-set table and the metrics cover each video exactly once.
"""
import numpy as np
from mindspore import nn

from src.metrics import compute_metrics


class MultiViewClassifier(nn.Cell):
    """`(N, V, T*3, H, W)` views (clips x crops) -> `(N, K)` logits averaged over the V views."""

    def __init__(self, net):
        super().__init__(auto_prefix=False)  # keep the wrapped network's parameter names (checkpoints)
        self.net = net

    def construct(self, views):
        n, v, c, h, w = views.shape
        logits = self.net(views.reshape(n * v, c, h, w))  # [N, V, T*3, H, W] -> [N*V, T*3, H, W] -> [N*V, K]
        return logits.reshape(n, v, -1).mean(axis=1)  # [N*V, K] -> [N, V, K] -> [N, K]


def predict(classifier, dataset):
    """Run the eval dataset once through a MultiViewClassifier: `(rows, logits, labels)` of this shard's real rows."""
    classifier.set_train(False)
    rows, logits, labels = [], [], []
    for views, label, index in dataset.create_tuple_iterator(num_epochs=1):
        index = index.asnumpy()
        keep = index >= 0
        if keep.any():
            rows.append(index[keep])
            logits.append(classifier(views).asnumpy().astype(np.float32)[keep])
            labels.append(label.asnumpy()[keep])
    if not rows:
        return np.zeros(0, np.int64), np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
    return np.concatenate(rows), np.concatenate(logits), np.concatenate(labels)


def gather_predictions(rows, logits, labels, num_videos, num_classes, all_reduce=None, allow_missing=False):
    """Full-set `(scores (num_videos, K), labels (num_videos,), seen (num_videos,) bool)`.

    Raises unless every video was predicted exactly once (`allow_missing`: bad samples skipped by the data
    pipeline may be missing). all_reduce: sums a NumPy array over ranks (None: single process).
    """
    table = np.zeros((num_videos, num_classes + 2), np.float32)
    if len(rows):
        np.add.at(table, rows, np.concatenate([logits, labels[:, None], np.ones((len(rows), 1))], axis=1))
    if all_reduce is not None:
        table = all_reduce(table)
    counts = table[:, -1]
    missing, repeated = int(np.sum(counts == 0)), int(np.sum(counts > 1))
    if repeated or (missing and not allow_missing) or missing == num_videos:
        raise RuntimeError(f"evaluation must see each of the {num_videos} videos once: {missing} missing, "
                           f"{repeated} seen more than once")
    return table[:, :num_classes], np.rint(table[:, num_classes]).astype(np.int64), counts == 1


class EvaluationError(RuntimeError):
    """Evaluation failed on at least one rank; raised on every rank together."""


def predict_agreed(classifier, dataset, all_reduce=None):
    """`predict`, and with `all_reduce` (several ranks) every rank learns whether any failed, and all raise then.

    Without it, a rank whose shard holds a bad video would stop while the others wait in the all-reduce of the
    results until the collective times out.
    """
    if all_reduce is None:
        return predict(classifier, dataset)
    error = None
    try:
        result = predict(classifier, dataset)
    except Exception as err:  # noqa: BLE001  (reported on every rank below)
        error, result = err, None
    failed = int(all_reduce(np.array([error is not None], np.float32))[0])
    if failed:
        here = f"; on this rank: {error}" if error is not None else ''
        raise EvaluationError(f"evaluation failed on {failed} rank(s){here}") from error
    return result


def evaluate(classifier, dataset, num_videos, num_classes, all_reduce=None, allow_missing=False):
    """Metrics of a MultiViewClassifier over the whole eval set; also returns `(scores, labels, seen)` of all videos.

    Build the classifier once and reuse it: each new cell compiles its graph again. `allow_missing`: see
    gather_predictions; the metrics then cover the videos seen (`num_missing` says how many were not).
    """
    rows, logits, labels = predict_agreed(classifier, dataset, all_reduce)
    scores, labels, seen = gather_predictions(rows, logits, labels, num_videos, num_classes, all_reduce,
                                              allow_missing)
    metrics = compute_metrics(scores[seen], labels[seen])
    metrics['num_missing'] = int(num_videos - seen.sum())
    return metrics, (scores, labels, seen)
