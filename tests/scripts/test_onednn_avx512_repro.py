"""benchmarks/onednn_avx512_repro.py at a tiny size: both ISA settings run and name oneDNN's implementation.

Fast tier on purpose: the reproduction must keep working in every CI run (a few seconds at this size)."""
import os
import re
import subprocess
import sys


ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def _has_avx512():
    try:
        with open('/proc/cpuinfo') as f:
            return ' avx512f' in f.read()
    except OSError:
        return False


def test_repro_names_the_reference_kernel_with_avx512_and_gemm_jit_with_avx2(tmp_path):
    out = tmp_path / 'report.md'
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'benchmarks', 'onednn_avx512_repro.py'),
                             '--channels', '8', '--size', '8', '--batch', '1', '--repeats', '1', '--out', str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = dict(re.findall(r'^\| (default \(unset\)|AVX2) \| [^|]* \| ([^|]+) \|', out.read_text(), re.M))
    assert set(rows) == {'default (unset)', 'AVX2'}
    assert '`x64:gemm:jit`' in rows['AVX2']
    if _has_avx512():  # the trap: plain-layout tensors go to the reference kernel
        assert 'ref:any' in rows['default (unset)']
    assert re.search(r'Ratio default / AVX2: [\d.]+x', out.read_text())
