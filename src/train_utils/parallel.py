"""Data-parallel setup, detected from the launcher's environment (msrun, RANK_TABLE_FILE, mpirun)."""
import logging
import os

import numpy as np

# Set by msrun (MS_WORKER_NUM), by the Ascend rank-table scripts (RANK_SIZE) and by OpenMPI's mpirun.
WORLD_SIZE_VARS = ('MS_WORKER_NUM', 'RANK_SIZE', 'OMPI_COMM_WORLD_SIZE')


def launched_distributed(environ=os.environ):
    """True when a launcher started several processes for this job."""
    return any(int(environ.get(name, '1') or 1) > 1 for name in WORLD_SIZE_VARS)


def device_id_from_env(environ=os.environ):
    """DEVICE_ID set by the rank-table scripts (one process per device), else None (the launcher decides)."""
    value = environ.get('DEVICE_ID')
    return int(value) if value not in (None, '') else None


def enter_rank_workdir(environ=os.environ):
    """Under our launchers (TSM_RANK_WORKDIR set), work in `<it>/rank_<RANK_ID>` (msrun's scheduler process:
    `<it>/scheduler`) and dump the environment there.

    Each rank then keeps its compiler caches (kernel_meta, rank_*/) and dumps apart from the others. Returns the
    directory, or None when not launched that way. Call after making the config's paths absolute.
    """
    root = environ.get('TSM_RANK_WORKDIR')
    if not root:
        return None
    scheduler = environ.get('MS_ROLE') == 'MS_SCHED'  # msrun's scheduler runs the entry script too
    directory = os.path.join(root, 'scheduler' if scheduler else f"rank_{environ.get('RANK_ID', '0')}")
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, 'env.log'), 'w') as f:
        f.writelines(f'{key}={value}\n' for key, value in sorted(environ.items()))
    os.chdir(directory)
    return directory


def init_parallel():
    """Join the process group if launched distributed; returns (rank, group_size). Call after init_context."""
    if not launched_distributed():
        return 0, 1
    import mindspore as ms
    from mindspore.communication import get_group_size, get_rank, init

    init()
    group_size = get_group_size()
    ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True,
                                 device_num=group_size)
    return get_rank(), group_size


def leave_parallel(group_size):
    """Release the process group (HCCL/NCCL/MCCL) at the end of a distributed run, while Python still runs.

    Left to the interpreter's exit, MindSpore 2.10's CPU workers crashed there now and then (SIGSEGV after all
    output was written, about 1 in 15 two-worker msrun runs), and msrun then failed the whole job.
    """
    if group_size > 1:
        from mindspore.communication import release

        release()
        logging.getLogger(__name__).info('released the process group')


_ALL_REDUCE = []


def all_reduce_sum(array):
    """Sum a NumPy array over all ranks (every rank gets the result).

    A graph-mode AllReduce cell: the eager `comm_func.all_reduce` has no CPU kernel in MindSpore 2.10.
    """
    import mindspore as ms
    from mindspore import nn, ops

    if not _ALL_REDUCE:
        class AllReduceSum(nn.Cell):
            def __init__(self):
                super().__init__()
                self.all_reduce = ops.AllReduce()

            def construct(self, x):
                return self.all_reduce(x)

        _ALL_REDUCE.append(AllReduceSum())
    mode = ms.get_context('mode')
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        return _ALL_REDUCE[0](ms.Tensor(np.ascontiguousarray(array))).asnumpy()
    finally:
        ms.set_context(mode=mode)


def average_bn_statistics(net, group_size, all_reduce=None):
    """Replace every BatchNorm moving mean/variance by its mean over the ranks; returns how many were averaged.

    Data parallelism all-reduces gradients, so the weights stay identical, but each rank's BN statistics follow
    its own batches. Averaging them (at epoch end) gives every rank - and the checkpoint - the same model.
    """
    import mindspore as ms

    stats = [p for p in net.get_parameters() if p.name.endswith(('moving_mean', 'moving_variance'))]
    if group_size <= 1 or not stats:
        return 0
    flat = np.concatenate([p.asnumpy().astype(np.float32).ravel() for p in stats])
    flat = (all_reduce or all_reduce_sum)(flat) / group_size
    offset = 0
    for p in stats:
        size = int(np.prod(p.shape))
        p.set_data(ms.Tensor(flat[offset:offset + size].reshape(p.shape), p.dtype))
        offset += size
    return len(stats)
