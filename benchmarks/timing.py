"""Timing helpers shared by the benchmarks and their workers (MindSpore and PyTorch); imports neither framework nor
`src` (machine_info reads MindSpore's version when called), so a worker's instruction-set settings stay exactly as its
parent set them. `spawn` runs one job in a fresh worker process: bench_model.py --worker, or torch_tsm.py."""
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
ROOT = BENCHMARKS.parent


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


TORCH_ISA = {'AVX2': {'ONEDNN_MAX_CPU_ISA': 'AVX2', 'ATEN_CPU_CAPABILITY': 'avx2'}, 'default': {}}


def spawn(job, torch_python=None):
    """Run `job` in a fresh interpreter (bench_model.py's worker) and return its JSON result (a PyTorch job:
    torch_tsm.py under `torch_python`, with the instruction set of job['isa'] and nothing of MindSpore's settings)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get('PYTHONPATH')])))
    command = [sys.executable, str(BENCHMARKS / 'bench_model.py'), '--worker', json.dumps(job)]
    if job.get('framework') == 'torch':
        env = {k: v for k, v in os.environ.items() if k not in ('ONEDNN_MAX_CPU_ISA', 'ATEN_CPU_CAPABILITY')}
        env.update(TORCH_ISA[job['isa']])
        command = [torch_python, str(BENCHMARKS / 'torch_tsm.py'), json.dumps(job)]
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark worker failed for {job}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def median(values):
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def machine_info(device_target):
    cpu = platform.processor() or 'unknown'
    try:
        with open('/proc/cpuinfo') as info:
            cpu = next(line.split(':', 1)[1].strip() for line in info if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    import mindspore as ms
    return {'cpu': cpu, 'cores': os.cpu_count(), 'mindspore': ms.__version__, 'device_target': device_target,
            'ONEDNN_MAX_CPU_ISA': os.environ.get('ONEDNN_MAX_CPU_ISA', '(unset)'), 'python': platform.python_version()}
