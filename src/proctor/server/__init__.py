"""The ASGI server: routes, proxy handlers, admin API."""
