"""Guards: detectors over text (PII and secrets, injection, toxicity...), testable alone."""
