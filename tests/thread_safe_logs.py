"""Server-side exceptions logged on one line while tests run an in-process server thread.

CPython 3.11 before 3.11.8 keeps the AST constructor's recursion counter per interpreter, not
per thread (python/cpython#106905), and both traceback formatting (its ^^^ anchors) and
pytest's report of a failing test call `ast.parse`. When a server thread logs the traceback
of a 500 at the moment the test thread reports the failure that 500 caused, the two race and
pytest dies with "INTERNALERROR ... SystemError: AST constructor recursion depth mismatch",
which hides every later result. Logging the exception's type and message instead of its
traceback keeps the server thread away from `ast.parse`; the test still sees the 500.
"""

from __future__ import annotations

import logging

# Filters apply to records logged on the logger itself, not to its children: list them all.
_LOGGERS = ("uvicorn.error", "proctor", "proctor.config", "proctor.resilience", "proctor.store")


class OneLineTracebacks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage().rstrip()} [{type(exc).__name__}: {exc}]"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


_FILTER = OneLineTracebacks()


def one_line_server_tracebacks() -> None:
    """Install the filter (idempotent); it stays for the rest of the test process."""
    for name in _LOGGERS:
        logging.getLogger(name).addFilter(_FILTER)
