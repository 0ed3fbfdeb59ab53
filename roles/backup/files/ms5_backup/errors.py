"""The one exception type the program turns into a `FAILED:` line."""


class BackupError(Exception):
    """A failure with a message meant for the operator (what is wrong, what to do)."""
