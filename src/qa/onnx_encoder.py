"""A query encoder on ONNX Runtime: sentence-transformers vectors without torch at ask time.

:func:`export_onnx` (build time, needs torch) turns the model into one ONNX graph that does
BERT, mean pooling over the attention mask and L2 normalisation (and, as a second output, every
word piece's vector, normalised). :class:`OnnxQueryEncoder`
(ask time) runs it with only numpy, onnxruntime and tokenizers.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from qa.late_interaction import word_pieces

logger = logging.getLogger(__name__)

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_OUTPUT = "sentence_embedding"
#: The last layer's vector of every word piece, L2-normalised (for :mod:`qa.late_interaction`).
_TOKENS = "token_embeddings"
# Two threads (the machine's two cores) cut a short query from ~7 ms to ~4.5 ms warm and
# cost nothing measurable at cold start.
_THREADS = 2
_BATCH_SIZE = 32


def export_onnx(model_path: str | Path, out_path: Path) -> Path:
    """Export a sentence-transformers BERT model to an optimised ONNX graph.

    The graph takes int64 ``input_ids``, ``attention_mask`` and ``token_type_ids`` of shape
    ``(batch, sequence)`` and returns ``sentence_embedding``, float32 ``(batch, dim)`` unit
    vectors, and ``token_embeddings``, float32 ``(batch, sequence, dim)`` unit vectors. Weights go to ``<out_path>.data`` next to the graph (sessions then load in ~60 ms
    instead of ~250 ms), and ``tokenizer.json`` is copied into the same folder. Each file is
    written to a temporary name and moved into place with :func:`os.replace`, the graph last.

    Args:
        model_path: Folder of the sentence-transformers model (``config.json``, weights,
            ``tokenizer.json``).
        out_path: Where to write the ONNX graph.

    Returns:
        ``out_path``.
    """
    import onnxruntime as ort
    import torch
    from transformers import AutoModel

    model_path, out_path = Path(model_path), Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    bert = AutoModel.from_pretrained(model_path, attn_implementation="eager").eval()

    class _Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1), torch.nn.functional.normalize(hidden, p=2, dim=-1)

    # A padded row in the example so the traced graph keeps the masking path.
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]])
    example = (ids, (ids != 0).long(), torch.zeros_like(ids))
    axes = {name: {0: "batch", 1: "sequence"} for name in _INPUTS} | {_OUTPUT: {0: "batch"}, _TOKENS: {0: "batch", 1: "sequence"}}
    data_name = f"{out_path.name}.data"
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{out_path.name}.", dir=out_path.parent))
    try:
        raw = tmp_dir / "raw.onnx"
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # legacy-exporter deprecation and tracer notices
            torch.onnx.export(
                _Encoder().eval(),
                example,
                str(raw),
                input_names=list(_INPUTS),
                output_names=[_OUTPUT, _TOKENS],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        # Let ONNX Runtime fuse the graph once (portable "extended" level, no hardware-specific
        # layouts) and save it with external weights, so later sessions skip both steps.
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.optimized_model_filepath = str(tmp_dir / out_path.name)
        options.add_session_config_entry(
            "session.optimized_model_external_initializers_file_name", data_name
        )
        options.add_session_config_entry(
            "session.optimized_model_external_initializers_min_size_in_bytes", "1024"
        )
        ort.InferenceSession(str(raw), options, providers=["CPUExecutionProvider"])
        shutil.copyfile(model_path / "tokenizer.json", tmp_dir / "tokenizer.json")
        os.replace(tmp_dir / "tokenizer.json", out_path.parent / "tokenizer.json")
        os.replace(tmp_dir / data_name, out_path.parent / data_name)
        os.replace(tmp_dir / out_path.name, out_path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    logger.info(
        "exported %s to %s in %.1f s (%.0f MB)",
        model_path,
        out_path,
        time.perf_counter() - started,
        (out_path.stat().st_size + (out_path.parent / data_name).stat().st_size) / 1e6,
    )
    return out_path


class OnnxQueryEncoder:
    """Encodes texts like sentence-transformers with a graph from :func:`export_onnx`.

    Args:
        onnx_path: The exported graph (its ``.data`` file beside it).
        tokenizer_path: The model's ``tokenizer.json``.
        max_length: Truncation length in word pieces, special tokens included.
        spinning: Let the intra-op threads spin-wait between operators (``Settings.onnx_spinning``).
            Off by default: spinning saves ~0.4–2 ms per question on idle cores, but when other
            processes compete for them the spinning threads steal each other's core (bundled
            article, shared cores: warm ask p50 43.5 ms with spinning, 21.9 ms without).
    """

    def __init__(self, onnx_path: Path, tokenizer_path: Path, max_length: int = 256, spinning: bool = False) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        started = time.perf_counter()
        options = ort.SessionOptions()
        options.intra_op_num_threads = _THREADS
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        # export_onnx already optimised the graph; redoing it would only slow session creation.
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        self._session = ort.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = [i.name for i in self._session.get_inputs()]
        outputs = self._session.get_outputs()
        self.dimension: int = int(outputs[0].shape[-1])
        #: Whether the graph gives token vectors (graphs exported before they existed do not).
        self.has_tokens = any(o.name == _TOKENS for o in outputs)

        tokenizer = Tokenizer.from_file(str(tokenizer_path))
        pad = tokenizer.padding or {"pad_id": 0, "pad_token": "[PAD]"}
        tokenizer.enable_truncation(max_length)
        # tokenizer.json pads to a fixed 128; pad to the longest text in the batch instead.
        tokenizer.no_padding()
        tokenizer.enable_padding(pad_id=pad["pad_id"], pad_token=pad["pad_token"])
        self._tokenizer = tokenizer
        # [CLS], [SEP], [PAD], [UNK]…: left out of token vectors, as sentence-transformers' all_special_ids.
        self._special = np.array(
            sorted(i for i, t in tokenizer.get_added_tokens_decoder().items() if t.special), dtype=np.int64
        )
        logger.debug("loaded %s in %.3f s", onnx_path, time.perf_counter() - started)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Vectors of ``texts``, in order.

        Args:
            texts: The texts; long ones are truncated to ``max_length`` word pieces.

        Returns:
            A ``(len(texts), dimension)`` float32 array of L2-normalised vectors.
        """
        return self._run(texts, tokens=False)[0]

    def encode_with_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray] | None]]:
        """Vectors of ``texts`` and, per text, its word pieces: ``(ids, unit vectors)`` without
        special tokens (``None`` for every text when the graph has no token output)."""
        return self._run(texts, tokens=self.has_tokens)

    def _run(self, texts: list[str], tokens: bool) -> tuple[np.ndarray, list]:
        if isinstance(texts, str):
            raise TypeError("encode takes a list of strings, not a string")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        pieces: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(texts)
        names = [_OUTPUT, _TOKENS] if tokens else [_OUTPUT]
        # Similar lengths in a batch pad less.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for begin in range(0, len(texts), _BATCH_SIZE):
            idx = order[begin : begin + _BATCH_SIZE]
            encodings = self._tokenizer.encode_batch([texts[i] for i in idx])
            arrays = {
                "input_ids": [e.ids for e in encodings],
                "attention_mask": [e.attention_mask for e in encodings],
                "token_type_ids": [e.type_ids for e in encodings],
            }
            feed = {name: np.array(arrays[name], dtype=np.int64) for name in self._inputs}
            result = self._session.run(names, feed)
            out[idx] = result[0]
            if tokens:
                ids, mask = feed["input_ids"], feed["attention_mask"]
                for j, i in enumerate(idx):
                    pieces[i] = word_pieces(ids[j], mask[j], result[1][j], self._special)
        return out, pieces
