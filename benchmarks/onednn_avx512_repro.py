"""Stand-alone reproduction: MindSpore's CPU Conv2d falls to oneDNN's reference kernel when AVX-512 is allowed.

One `nn.Conv2d` (plain NCHW, float32, GRAPH_MODE) runs in two fresh processes that differ only in
ONEDNN_MAX_CPU_ISA: unset (oneDNN picks the best ISA of the CPU) and AVX2. Each prints the implementation oneDNN
chose (from ONEDNN_VERBOSE=1) and the times; the parent prints a report ready for MindSpore's issue tracker
(versions, CPU, flags, numbers). Nothing of this project is imported.

    python benchmarks/onednn_avx512_repro.py                                   # 64->64 3x3, batch 8, 56x56
    python benchmarks/onednn_avx512_repro.py --channels 16 --size 14 --batch 1 --repeats 2   # seconds, for CI

Seen on this project's machines (Intel Xeon with AVX-512 and AMX, and AMD EPYC with AVX-512; MindSpore 2.10.0,
oneDNN 3.10.1): unset -> `jit_uni_ncsp:conv+ref:any`, 7x slower than `x64:gemm:jit` under AVX2 at the tiny CI
size and ~80x at the default size. src/runtime.py therefore caps the ISA at AVX2.
"""
import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time

SETTINGS = (('default (unset)', None), ('AVX2', 'AVX2'))
VERBOSE_CONV = re.compile(r'^onednn_verbose,v1,primitive,exec,cpu,convolution,([^,]+),.*,([\d.]+)$')


def worker(args):
    """Time one convolution in this process; print one JSON line."""
    import numpy as np
    import mindspore as ms
    from mindspore import nn

    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device('CPU')
    conv = nn.Conv2d(args.channels, args.channels, 3, pad_mode='pad', padding=1, has_bias=False)
    x = ms.Tensor(np.random.default_rng(0).random((args.batch, args.channels, args.size, args.size), np.float32))
    conv(x).asnumpy()  # compile
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        conv(x).asnumpy()
        times.append(time.perf_counter() - start)
    print('RESULT ' + json.dumps({'times_ms': [t * 1e3 for t in times], 'mindspore': ms.__version__}), flush=True)


def run_setting(isa, args):
    env = {k: v for k, v in os.environ.items() if k != 'ONEDNN_MAX_CPU_ISA'}
    env.update(ONEDNN_VERBOSE='1', GLOG_v='3')
    if isa:
        env['ONEDNN_MAX_CPU_ISA'] = isa
    command = [sys.executable, os.path.abspath(__file__), '--worker', '--channels', str(args.channels), '--size',
               str(args.size), '--batch', str(args.batch), '--repeats', str(args.repeats)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    lines = (result.stdout + result.stderr).splitlines()
    found = [line for line in lines if line.startswith('RESULT ')]
    if result.returncode or not found:
        raise SystemExit(f"worker with ONEDNN_MAX_CPU_ISA={isa} failed:\n" + '\n'.join(lines[-20:]))
    convs = [m.groups() for line in lines if (m := VERBOSE_CONV.match(line.strip()))]
    isa_line = next((line.split(',isa:')[1] for line in lines if ',isa:' in line), 'unknown')
    onednn = next((line.split(',info,')[1] for line in lines if 'info,oneDNN v' in line), 'oneDNN ?')
    return {**json.loads(found[-1][len('RESULT '):]), 'implementations': sorted({c[0] for c in convs}),
            'onednn_exec_ms': [float(c[1]) for c in convs], 'isa': isa_line, 'onednn': onednn}


def cpu_description():
    model, flags = platform.processor() or platform.machine(), []
    try:
        with open('/proc/cpuinfo') as f:
            text = f.read()
        model = re.search(r'^model name\s*:\s*(.+)$', text, re.M).group(1)
        flags = sorted(set(re.findall(r'\b(avx512\w*|avx2|amx\w*)\b', text)))
    except (OSError, AttributeError):
        pass
    return model, flags


def report(results, args):
    model, flags = cpu_description()
    any_result = next(iter(results.values()))
    lines = ['## CPU Conv2d runs oneDNN\'s reference kernel (`ref:any`) when AVX-512 is available', '',
             f'- MindSpore {any_result["mindspore"]}, {any_result["onednn"]}, Python {platform.python_version()}, '
             f'{platform.system()} {platform.release()}',
             f'- CPU: {model}, {os.cpu_count()} logical cores; flags: {" ".join(flags) or "n/a"}',
             f'- `nn.Conv2d({args.channels}, {args.channels}, 3, pad_mode="pad", padding=1)`, float32 NCHW input '
             f'({args.batch}, {args.channels}, {args.size}, {args.size}), GRAPH_MODE, {args.repeats} timed runs '
             'after one untimed run', '',
             '| ONEDNN_MAX_CPU_ISA | ISA oneDNN reports | implementation | median ms (min) | oneDNN exec ms, median |',
             '|---|---|---|---|---|']
    for name, r in results.items():
        times = sorted(r['times_ms'])
        exec_ms = sorted(r['onednn_exec_ms'])
        lines.append(f"| {name} | {r['isa'][:40]} | {', '.join(f'`{i}`' for i in r['implementations'])} | "
                     f"{times[len(times) // 2]:.1f} ({times[0]:.1f}) | "
                     f"{exec_ms[len(exec_ms) // 2] if exec_ms else float('nan'):.1f} |")
    slow, fast = (sorted(r['times_ms'])[len(r['times_ms']) // 2] for r in results.values())
    lines += ['', f'Ratio default / AVX2: {slow / fast:.1f}x. MindSpore hands oneDNN plain-layout (NCHW, `abcd`) '
              'tensors; with AVX-512 allowed oneDNN 3.x chooses `jit_uni_ncsp:conv+ref:any` for them, while at '
              'AVX2 it uses `gemm:jit`. Workaround: `export ONEDNN_MAX_CPU_ISA=AVX2` before MindSpore starts. '
              'Reproduce: `python onednn_avx512_repro.py` (this script).']
    return '\n'.join(lines) + '\n'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--channels', type=int, default=64, help='input and output channels of the convolution')
    parser.add_argument('--size', type=int, default=56, help='input height and width')
    parser.add_argument('--batch', type=int, default=8, help='input batch')
    parser.add_argument('--repeats', type=int, default=5, help='timed runs per setting')
    parser.add_argument('--out', default='', help='also write the report (markdown) here')
    parser.add_argument('--worker', action=argparse.BooleanOptionalAction, default=False, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    results = {name: run_setting(isa, args) for name, isa in SETTINGS}
    text = report(results, args)
    sys.stdout.write(text)
    if args.out:
        with open(args.out + '.tmp', 'w') as f:
            f.write(text)
        os.replace(args.out + '.tmp', args.out)
    return None


if __name__ == '__main__':
    main()
