"""Prompt-injection and jailbreak detection: `detect_injection(text)`, `injection_score(text)`.

Three layers (docs/guardrails.md has the whole story):

1. `normalize`: undo obfuscation (look-alike letters, invisible characters, spacing,
   leetspeak, base64 / hex / rot13 / URL / HTML / reversed / Unicode-tag payloads);
2. `heuristics`: phrase families with a weight and a reason slug each;
3. `classifier`: hashed character and word n-grams with logistic regression, trained by
   bench/guards/train_injection.py on public data and shipped as `model.npz`.

The classifier's logit and the heuristics' total weight are combined by a small logistic
regression fitted on out-of-fold scores, so the score is a calibrated probability; strong
heuristic evidence alone scores at least its precision measured on the training data. Long
texts are scored by windows, so an instruction planted in a long e-mail still stands out.

`source="document"` is for indirect content (retrieved documents, tool outputs, e-mails):
on top of the whole-text score, `document` cuts the text into sentences and lines and looks
for one that is addressed to the assistant (a task, a question, a code payload), which is
out of place in a document though harmless in a prompt; the higher of the two scores wins.
"""

from __future__ import annotations

import math
from typing import Literal

from proctor.guards.base import Detection
from proctor.guards.injection import classifier, document, heuristics
from proctor.guards.injection.normalize import views

__all__ = ["DEFAULT_THRESHOLD", "Source", "detect_injection", "injection_score"]

# What the text is: a prompt (a user's message) or a document the model reads on the user's
# behalf (a tool's output, a retrieved page, an e-mail).
Source = Literal["prompt", "document"]
OUT_OF_PLACE = "out-of-place-instruction"  # the reason document mode adds

# Tuned by the training script on out-of-fold scores of its train split (see model.npz).
DEFAULT_THRESHOLD: float = classifier.load().threshold


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def _analyse(text: str, source: Source = "prompt") -> tuple[float, list[str], str]:
    if not isinstance(text, str) or not text.strip():
        return 0.0, [], heuristics.INJECTION
    seen = views(text)
    words = classifier.WORD.findall(seen.text)
    hits = heuristics.match(seen, frozenset(words))
    model = classifier.load()
    logit, jailbreak = model.score(seen.text, words)
    for _, payload in seen.decoded:  # an encoded payload is scored on its own as well
        logit = max(logit, model.score(payload)[0])
    weight = heuristics.total(hits, model.cap)
    score = _sigmoid(model.scale * logit + model.heuristic * weight + model.offset)
    if weight >= model.strong_at:
        score = max(score, model.strong_p)
    reasons = [h.slug for h in hits]
    reasons += sorted({h.via for h in hits if h.via is not None})
    if not hits and score >= model.threshold:
        reasons.append("classifier")
    kind = _type(hits, jailbreak)
    if source == "document" and model.sentence is not None:
        out_of_place = _document_score(model, seen.text)
        if out_of_place >= model.threshold:
            reasons.append(OUT_OF_PLACE)
            if out_of_place > score:  # the planted sentence is the evidence: indirect
                kind = heuristics.INJECTION
        score = max(score, out_of_place)
    return score, reasons, kind


def _document_score(model: classifier.Model, folded: str) -> float:
    """The probability that one segment of a document is an instruction to the assistant."""
    assert model.sentence is not None
    found = document.evidence(model.sentence, model.sentence_bias, folded)
    if found is None or found.count == 1:  # no document around it to be out of place in
        return 0.0
    a, b, c, offset = model.document
    return _sigmoid(a * found.top + b * (found.top - found.rest) + c * found.shared + offset)


def _type(hits: list[heuristics.Hit], jailbreak_logit: float) -> str:
    """The heuristics' heavier family when they fired, else the classifier's type head."""
    by_type = {heuristics.INJECTION: 0.0, heuristics.JAILBREAK: 0.0}
    for hit in hits:
        by_type[hit.type] += hit.weight
    if by_type[heuristics.INJECTION] != by_type[heuristics.JAILBREAK]:
        return max(by_type, key=by_type.__getitem__)
    return heuristics.JAILBREAK if jailbreak_logit > 0 else heuristics.INJECTION


def injection_score(text: str, source: Source = "prompt") -> tuple[float, list[str]]:
    """Probability in [0, 1] that `text` is an injection or jailbreak, and the reasons found.

    Reasons are short slugs: rule names ("ignore-previous-instructions", "dan-persona"...),
    how a rule was reached ("obfuscated", "encoded-base64"...), "classifier" when only the
    statistical model speaks for it, or "out-of-place-instruction" when, with
    `source="document"`, a sentence of the document is addressed to the assistant.
    """
    score, reasons, _ = _analyse(text, source)
    return score, reasons


def detect_injection(
    text: str, threshold: float | None = None, *, source: Source = "prompt"
) -> list[Detection]:
    """One detection over the whole text when its score reaches `threshold`.

    `threshold` defaults to DEFAULT_THRESHOLD; type "JAILBREAK" (personas, role-play, "no
    restrictions") or "INJECTION" (instruction override, prompt extraction, indirect).
    `source="document"` for tool outputs and retrieved documents (see the module's doc).
    """
    limit = DEFAULT_THRESHOLD if threshold is None else threshold
    score, reasons, kind = _analyse(text, source)
    if not text or score < limit:
        return []
    return [Detection("injection", kind, 0, len(text), score, ",".join(reasons) or None)]
