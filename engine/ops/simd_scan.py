"""The auction's inner loop as vector code: the two smallest values of row + p and where the
smallest is, over 8 lanes at once.

Every bid of the auction (ops/auction.py) scans one row of the cost matrix plus the prices for
its best and second-best object. Written as a loop, numba compiles that scan to scalar code (its
two running minima depend on each other, which LLVM's vectoriser does not handle): ~0.8 us per
1,024 entries here. The same scan written once in LLVM IR with <8 x double> lanes (each lane
keeps its own best, second best and index; the lanes are merged afterwards) runs in ~0.2 us.
llvmlite, which numba is built on, compiles it for the host CPU at run time (AVX-512, AVX2 or
SSE, whatever is there), so nothing is compiled at install time and a bundled app carries it.

``native_top2()`` returns a ctypes function ``top2(row, p, n8, out, jout)`` (n8: a multiple of 8,
at least 8; out: 16 doubles = the lanes' minima then second minima; jout: 8 int64 = the lanes'
arg-minima), or None where it cannot be built; the caller then keeps the scalar loop (logged
once and listed by ``engine.ops.fallbacks.kernel_fallbacks()``). llvmlite 0.44 and older cannot
parse this IR's pointers (``ptr``), hence ``llvmlite>=0.45`` in pyproject.toml.
"""
from __future__ import annotations

import ctypes
import functools

LANES = 8
_INF8 = "<" + ", ".join(["double 0x7FF0000000000000"] * LANES) + ">"
_IOTA8 = "<" + ", ".join(f"i64 {k}" for k in range(LANES)) + ">"

# Per lane: v = row[j] + p[j]; m2 = v < m1 ? m1 : min(m2, v); idx = v < m1 ? j : idx;
# m1 = min(m1, v). Strict comparisons: a lane keeps its first arg-minimum, and a value equal to
# the lane's minimum becomes its second minimum (ties give v2 = v1, as the scalar scan does).
_IR = f"""
define void @top2(ptr %row, ptr %p, i64 %n8, ptr %out, ptr %jout) {{
entry:
  br label %loop
loop:
  %j = phi i64 [0, %entry], [%jn, %loop]
  %m1 = phi <8 x double> [{_INF8}, %entry], [%m1n, %loop]
  %m2 = phi <8 x double> [{_INF8}, %entry], [%m2n, %loop]
  %ix = phi <8 x i64> [zeroinitializer, %entry], [%ixn, %loop]
  %rp = getelementptr double, ptr %row, i64 %j
  %r = load <8 x double>, ptr %rp, align 8
  %pp = getelementptr double, ptr %p, i64 %j
  %q = load <8 x double>, ptr %pp, align 8
  %v = fadd <8 x double> %r, %q
  %lt = fcmp olt <8 x double> %v, %m1
  %lt2 = fcmp olt <8 x double> %v, %m2
  %m2a = select <8 x i1> %lt2, <8 x double> %v, <8 x double> %m2
  %m2n = select <8 x i1> %lt, <8 x double> %m1, <8 x double> %m2a
  %m1n = select <8 x i1> %lt, <8 x double> %v, <8 x double> %m1
  %js = insertelement <8 x i64> poison, i64 %j, i64 0
  %jb = shufflevector <8 x i64> %js, <8 x i64> poison, <8 x i32> zeroinitializer
  %jv = add <8 x i64> %jb, {_IOTA8}
  %ixn = select <8 x i1> %lt, <8 x i64> %jv, <8 x i64> %ix
  %jn = add i64 %j, 8
  %done = icmp sge i64 %jn, %n8
  br i1 %done, label %exit, label %loop
exit:
  store <8 x double> %m1n, ptr %out, align 8
  %o2 = getelementptr double, ptr %out, i64 8
  store <8 x double> %m2n, ptr %o2, align 8
  store <8 x i64> %ixn, ptr %jout, align 8
  ret void
}}
"""

_SIGNATURE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p,
                              ctypes.c_void_p)
_ENGINES: list = []          # the JIT engines must outlive the functions they compiled


@functools.lru_cache(maxsize=1)
def native_top2():
    """The compiled ``top2`` (see the module docstring), or None where llvmlite cannot build it."""
    try:
        import llvmlite.binding as llvm

        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        module = llvm.parse_assembly(_IR)
        module.verify()
        machine = llvm.Target.from_default_triple().create_target_machine(
            cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), opt=3)
        engine = llvm.create_mcjit_compiler(module, machine)
        engine.finalize_object()
        _ENGINES.append(engine)
        return _SIGNATURE(engine.get_function_address("top2"))
    except Exception as e:                   # noqa: BLE001 - any failure: keep the scalar scan
        from engine.ops.fallbacks import note_fallback

        why = " ".join(f"{type(e).__name__}: {e}".split())[:300]
        note_fallback("simd_scan", "the auction's vector scan could not be built with llvmlite "
                      f"({why}); it uses the scalar scan (same results, about 2x slower). "
                      "llvmlite>=0.45 builds it.")
        return None
