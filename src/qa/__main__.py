import os
import sys

from qa.cli import main

code = main()
if sys.argv[1:2] == ["ask"]:
    # A one-shot `qa ask` has nothing left to do: skip the interpreter's teardown of numpy, faiss
    # and onnxruntime (~0.1-0.2 s). Only here, never in cli.main(), which runs in-process too.
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # a closed or broken stream: let the normal exit report it as it always did
    else:
        os._exit(code)
raise SystemExit(code)
