"""Timing helpers shared by the benchmark workers (MindSpore and PyTorch); imports neither framework nor `src`,
so a worker's instruction-set settings stay exactly as its parent set them."""
import resource
import time


def peak_rss_mb():
    """High-water mark of this process's resident memory (VmHWM; ru_maxrss where /proc is missing)."""
    try:
        with open('/proc/self/status') as status:
            for line in status:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_runs(step, warmup, repeats):
    """Run `step` (which must block until its result is on the host) `warmup` times untimed, then time it."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


def run_timed(step, warmup, repeats):
    """First call timed apart (compilation / first-touch), then `timed_runs`; with the peak memory."""
    start = time.perf_counter()
    step()
    compile_s = time.perf_counter() - start
    return {'times': timed_runs(step, warmup, repeats), 'compile_s': compile_s, 'peak_rss_mb': peak_rss_mb()}
