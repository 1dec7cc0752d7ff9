"""Query patterns: production queries clustered into topics, in the background."""

from proctor.topics.cluster import Clusterer, Topic
from proctor.topics.report import TopicsQuery, topics_query, topics_report
from proctor.topics.service import TopicService, query_text

__all__ = [
    "Clusterer",
    "Topic",
    "TopicService",
    "TopicsQuery",
    "query_text",
    "topics_query",
    "topics_report",
]
