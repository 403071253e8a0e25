"""The click group every command belongs to: it shows every error as one line on
stderr, ``voiceguide: ...``, with the error's exit status, never a traceback.

Library errors keep their own exit status (:mod:`voiceguide.errors`), any I/O error
is a :class:`~voiceguide.errors.StorageError`, and a bad option value is click's
message with the option's name, exit 2.
"""

from __future__ import annotations

import click

from voiceguide.errors import StorageError, VoiceguideError, os_error_message, safe_line


class UserError(click.ClickException):
    """A :class:`VoiceguideError` shown as one line, with its exit status."""

    def __init__(self, error: VoiceguideError):
        super().__init__(str(error))
        self.exit_code = error.exit_code

    def show(self, file=None) -> None:
        click.echo(f"voiceguide: {safe_line(self.message)}", err=True)


class BadValue(click.ClickException):
    """A bad option or argument value (click's message, with the option's name), shown
    as one line like every other error, exit 2."""

    exit_code = 2

    def __init__(self, error: click.BadParameter):
        message = error.format_message()
        if error.ctx is not None:
            message += f" (see '{error.ctx.command_path} --help')"
        super().__init__(message)

    def show(self, file=None) -> None:
        click.echo(f"voiceguide: {safe_line(self.message)}", err=True)


class PipeClosed(Exception):
    """The reader of standard output went away (``| head``): normal, not an error
    (:mod:`voiceguide.cli.main` exits 0 in silence)."""


class Group(click.Group):
    """Turns library errors, and any I/O error, into :class:`UserError` for every
    command, and a bad option value into :class:`BadValue`: one line, never a
    traceback. A closed standard output is :class:`PipeClosed`, not an error."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.BadParameter as err:
            raise BadValue(err) from None
        except VoiceguideError as err:
            raise UserError(err) from None
        except BrokenPipeError:
            raise PipeClosed() from None   # not an OSError: click would exit 1 on it
        except OSError as err:  # disk full, permission denied, read-only...: one line
            raise UserError(StorageError(os_error_message(err))) from None
