"""``python -m qa`` with prototype patches applied: QA_BENCH_PROTO=reuse-index,light-bm25,… (see _proto.py).

Used by bench_engine.py / bench_scale.py to measure a proposed src change in a real cold CLI process.
With QA_BENCH_PROTO empty it is plain ``python -m qa`` (plus this file's few imports).
"""

import os
import sys

names = [n for n in os.environ.get("QA_BENCH_PROTO", "").split(",") if n]
if names:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import _proto

    _proto.apply(names)

from qa.cli import main

rc = main(sys.argv[1:])
if "fast-exit" in names:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)
raise SystemExit(rc)
