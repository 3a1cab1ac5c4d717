"""``bridge worker``: one process running the bridge's background work as supervised tasks."""
