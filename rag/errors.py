"""The base classes for errors a user can cause and fix.

The command line and the UI show their message as a single line, never a
traceback; every message says what to do.
"""


class UserError(Exception):
    pass


class SettingsError(UserError, ValueError):
    """A setting a user wrote is wrong; the message says which and how to fix it."""
