"""Wire formats: the internal (OpenAI-shaped) types, OpenAI and Anthropic codecs, SSE."""
