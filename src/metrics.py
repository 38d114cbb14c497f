"""Video classification metrics on NumPy arrays (no MindSpore): eval.py's numbers, also for postprocess.py."""
import numpy as np


def compute_metrics(scores, labels):
    """top1, top5 and mean class accuracy (mean over the classes present of their top-1 recall), in percent."""
    k = min(5, scores.shape[1])
    topk = np.argsort(-scores, axis=1, kind='stable')[:, :k]
    hit1 = topk[:, 0] == labels
    hit5 = (topk == labels[:, None]).any(axis=1)
    classes = np.unique(labels)
    per_class = [hit1[labels == c].mean() for c in classes]
    return {'top1': 100 * float(hit1.mean()), 'top5': 100 * float(hit5.mean()),
            'mean_class_acc': 100 * float(np.mean(per_class)), 'num_videos': int(len(labels))}


def top_predictions(scores, k=5):
    """Per video: the k best (class, logit) pairs, best first."""
    top = np.argsort(-scores, axis=1, kind='stable')[:, :k]
    return [[(int(c), float(s[c])) for c in row] for row, s in zip(top, scores)]
