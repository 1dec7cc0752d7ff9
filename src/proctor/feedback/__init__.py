"""User feedback on answers: ratings with a key or with a response's feedback token,
written through the batched writer, and reported joined to the requests they rate."""

from proctor.feedback.body import FeedbackInput, parse_feedback
from proctor.feedback.recent import RecentRequests, Seen
from proctor.feedback.report import FeedbackQuery, feedback_report
from proctor.feedback.service import Channel, FeedbackService
from proctor.feedback.tokens import TOKEN_HEADER, Signer

__all__ = [
    "TOKEN_HEADER",
    "Channel",
    "FeedbackInput",
    "FeedbackQuery",
    "FeedbackService",
    "RecentRequests",
    "Seen",
    "Signer",
    "feedback_report",
    "parse_feedback",
]
