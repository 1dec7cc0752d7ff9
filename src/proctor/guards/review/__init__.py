"""The human review queue: requests held for a decision (`proctor review`, /admin/review).

`proctor.guards.review.item` holds the records (importable by the store without a cycle),
`proctor.guards.review.queue` the gateway's `ReviewQueue`.
"""
