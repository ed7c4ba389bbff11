"""Helpers shared by the benchmark scripts: subprocess timing with peak RSS, stats, tables.

Only the standard library is imported at module level, so a probe subprocess that imports this
module measures qa's own start-up, not the benchmark's.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent


_TIME = "/usr/bin/time" if os.path.exists("/usr/bin/time") else None


def run_measured(cmd: list[str], env: dict | None = None, cwd: Path | None = None,
                 timeout: float | None = None, stdin: str | None = None) -> dict:
    """Run ``cmd`` once; return wall seconds, peak RSS (MB) of that child, CPU seconds, exit code, output.

    The peak RSS is the child's own ``ru_maxrss``, taken by ``/usr/bin/time`` (which forks the
    command from a small process): measured by ``wait4`` from here instead, a child forked from a
    big benchmark process would report the parent's size (ru_maxrss survives fork + exec).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as inp, \
            tempfile.NamedTemporaryFile(suffix=".rss") as rss_file:
        if stdin is not None:
            inp.write(stdin.encode())
            inp.seek(0)
        full = [_TIME, "-o", rss_file.name, "-f", "%M %U %S", *cmd] if _TIME else cmd
        began = time.perf_counter()
        proc = subprocess.Popen(full, stdout=out, stderr=err, stdin=inp, env=env, cwd=cwd, start_new_session=True)
        deadline = None if timeout is None else began + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.perf_counter() > deadline:
                os.killpg(proc.pid, 9)  # the group this call created (start_new_session): nothing else
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        wall = time.perf_counter() - began
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        peak, user, system = usage.ru_maxrss / 1024, usage.ru_utime, usage.ru_stime
        if _TIME:
            try:
                fields = Path(rss_file.name).read_text().strip().splitlines()[-1].split()
                peak, user, system = int(fields[0]) / 1024, float(fields[1]), float(fields[2])
            except (OSError, IndexError, ValueError):
                pass
        return {
            "wall_s": wall,
            "peak_rss_mb": peak,
            "user_s": user,
            "sys_s": system,
            "rc": proc.returncode,
            "stdout": out.read().decode("utf-8", "replace"),
            "stderr": err.read().decode("utf-8", "replace"),
        }


def run_json_worker(script: Path, args: list[str], env: dict | None = None, timeout: float | None = None) -> dict:
    """Run ``python script --_worker args…``; its last stdout line is a JSON object.

    Returns that object merged with the wall time and peak RSS of the worker process.
    """
    res = run_measured([sys.executable, str(script), *args], env=env, timeout=timeout)
    if res["rc"] != 0:
        raise RuntimeError(f"worker {args[:2]} failed (rc={res['rc']}):\n{res['stderr'][-4000:]}")
    lines = [line for line in res["stdout"].splitlines() if line.startswith("{")]
    data = json.loads(lines[-1])
    data["process_wall_s"] = res["wall_s"]
    data["process_peak_rss_mb"] = res["peak_rss_mb"]
    return data


def quiet_env(**extra: str) -> dict:
    """The environment for qa subprocesses: offline, quiet, no colour."""
    env = dict(os.environ)
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                "PYTHONWARNINGS": "ignore"})
    env.update(extra)
    return env


def pct(values: list[float], q: float) -> float:
    """Percentile with linear interpolation (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summary(values: list[float]) -> dict:
    """Median, p95, min, max and spread of repeated timings."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p50": pct(values, 50),
        "p95": pct(values, 95),
        "min": min(values),
        "max": max(values),
        "stdev": statistics.stdev(values) if len(values) > 1 else 0.0,
    }


def du(path: Path) -> int:
    """Bytes on disk under ``path`` (apparent sizes of regular files; hard links counted once)."""
    seen, total = set(), 0
    path = Path(path)
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for p in files:
        st = p.stat()
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        total += st.st_size
    return total


def table(headers: list[str], rows: list[list]) -> str:
    """A GitHub markdown table."""
    def cell(v):
        if isinstance(v, float):
            if math.isnan(v):
                return "–"
            return f"{v:.3g}" if abs(v) < 10 else f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.1f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def src_state() -> str:
    """HEAD commit plus a hash of uncommitted changes under src/ (src is edited by others meanwhile)."""
    import hashlib

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              check=False).stdout.strip()
        diff = subprocess.run(["git", "diff", "HEAD", "--", "src"], cwd=REPO, capture_output=True, check=False).stdout
        return f"{head}+{hashlib.sha1(diff).hexdigest()[:8]}" if diff else head
    except OSError:
        return "unknown"


def machine() -> dict:
    """What the numbers were measured on, including the load other users put on it."""
    try:
        load = os.getloadavg()
    except OSError:
        load = (float("nan"),) * 3
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg": [round(x, 2) for x in load],
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
        "src": src_state(),
    }


def loadavg() -> float:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return float("nan")


def write_json(path: str | None, data: dict, quiet: bool = False) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(data, indent=2, default=str), "utf-8")
        if not quiet:
            print(f"\nJSON written to {path}", file=sys.stderr)


def rss_mb() -> float:
    """Current resident set size of this process (MB), from /proc (no psutil needed)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_split_mb() -> dict:
    """Resident memory split: anonymous (heap, copies) vs file-backed (mmapped index files, code)."""
    out = {}
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(("RssAnon:", "RssFile:", "RssShmem:", "VmHWM:")):
                    key, value = line.split(":", 1)
                    out[key] = int(value.split()[0]) / 1024
    except OSError:
        pass
    return out


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
