"""Read-only statistics and browsing over the request log, for the dashboard and admin API.

`params` checks what a caller asked for, `sql` builds portable bound statements (with the
spend report's binder and dimension whitelist), `report` shapes /admin/stats, and `browse`
answers the request list, one request's detail and the event list.
"""
