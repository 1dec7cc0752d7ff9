"""The `proctor` command, one module per sub-command group."""
