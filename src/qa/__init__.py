"""qa: answers questions about a folder of documents, citing the passages that prove them.

The pipeline runs one way: :mod:`qa.documents` → :mod:`qa.chunking` → :mod:`qa.embedding` →
:mod:`qa.indexing` / :mod:`qa.store` → :mod:`qa.retrieval` → :mod:`qa.answer`, with
:mod:`qa.conversation` for follow-ups. Front ends use :class:`qa.engine.Engine` only.

Nothing heavy is imported here, so ``python -m qa --help`` is instant.
"""

from __future__ import annotations

__version__ = "0.1.0"
