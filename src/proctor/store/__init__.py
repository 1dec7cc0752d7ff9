"""Storage: narrow protocols, the SQLite (default) backend, migrations, the batched writer."""
