"""How svip_mm's command-line tools report bad input: one ``error:`` line, exit code 2.

The policy, applied by :func:`run_tool` to every tool in ``tools/``:

- An error caused by what the user gave (a config value, a file, a checkpoint, a path that
  cannot be written) prints one line, ``error: <message>``, on stderr, and the tool exits
  with code 2. The message is the exception's own (svip_mm's errors name the file, key or
  value and what was expected); chained causes are not printed.
- ``--debug`` anywhere on the command line, or the environment variable ``SVIP_MM_DEBUG=1``,
  lets the exception through with its full traceback.
- Exceptions that are not about input (``AssertionError``, ``AttributeError``,
  ``IndexError``, ``NameError``, ...: bugs) keep their traceback, so that a defect is never
  dressed up as a user error. ``KeyboardInterrupt`` is left alone.
- ``SystemExit`` with a message (argparse's usage errors exit 2 themselves) is printed the
  same way; a numeric exit code passes through unchanged.
"""
import os
import sys
from typing import Callable, List, Optional, Sequence

DEBUG_FLAG = '--debug'
DEBUG_ENV = 'SVIP_MM_DEBUG'
EXIT_BAD_INPUT = 2

# what bad input raises: wrong values and types (also from MMEngine's registry, which re-raises
# a constructor's error with the class name), missing keys, unreadable or unwritable files
# (OSError covers FileNotFoundError and PermissionError), torch's runtime checks of shapes,
# failed custom_imports, and a non-finite loss from non-finite data
INPUT_ERRORS = (ValueError, TypeError, KeyError, OSError, RuntimeError, ImportError,
                FloatingPointError)


def debug_requested(argv: Sequence[str]) -> bool:
    """True with ``--debug`` in ``argv`` or ``SVIP_MM_DEBUG`` set to anything but ''/'0'."""
    return DEBUG_FLAG in argv or os.environ.get(DEBUG_ENV, '') not in ('', '0')


def error_message(err: BaseException) -> str:
    """The text of the ``error:`` line for ``err``: its message, on one line."""
    if isinstance(err, KeyError) and len(err.args) == 1 and isinstance(err.args[0], str):
        text = err.args[0]  # str(KeyError) quotes its message
    else:
        text = str(err) or type(err).__name__
    text = ' '.join(line.strip() for line in text.splitlines() if line.strip())
    return text if text.startswith('error:') else f'error: {text}'


def _fail(text: str) -> None:
    sys.stderr.flush()
    print(text, file=sys.stderr, flush=True)
    raise SystemExit(EXIT_BAD_INPUT)


def run_tool(main: Callable[[List[str]], object], argv: Optional[Sequence[str]] = None) -> None:
    """Run a tool's ``main(argv)`` under the error policy above and exit.

    Args:
        main: the tool's entry point; it is given the command line without ``--debug``. An
            ``int`` it returns is the exit code; anything else exits 0.
        argv: the command line (default ``sys.argv[1:]``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = debug_requested(argv)
    argv = [a for a in argv if a != DEBUG_FLAG]
    try:
        result = main(argv)
    except SystemExit as exit_:
        if debug or exit_.code is None or isinstance(exit_.code, int):
            raise
        _fail(error_message(exit_))
    except INPUT_ERRORS as err:
        if debug:
            raise
        _fail(error_message(err) + f'  (for the traceback: {DEBUG_FLAG} or {DEBUG_ENV}=1)')
    raise SystemExit(result if isinstance(result, int) else 0)
