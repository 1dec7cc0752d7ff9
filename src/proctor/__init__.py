"""proctor: an LLM gateway that makes LLM applications production-ready."""

from proctor.app import Gateway
from proctor.config import Config

__all__ = ["Config", "Gateway"]
__version__ = "0.1.0"
