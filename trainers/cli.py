"""What every console script shares: quiet TensorFlow, --verbose, --help, one-line errors.

Import this module before TensorFlow: TF reads TF_CPP_MIN_LOG_LEVEL once, when
it loads, so its start-up lines and oneDNN notes are silenced here unless
--verbose is on the command line. Start the tool with `run(main)`:

- `--help` prints the tool's docstring and its own flags (absl's prints only
  "Try --helpfull"); --helpfull still lists every absl and TF flag.
- Expected errors (bad flags, missing or malformed files, bad shards, ...)
  print `error: <what and why>` in one or two lines and exit non-zero; a
  traceback only with --verbose or for an unexpected exception (a bug).
"""
import os
import re
import sys

from absl import app, flags


def _tool_arguments():
    """The command line before `--` (after it come a Beam runner's options)."""
    return sys.argv[1:sys.argv.index("--") if "--" in sys.argv else None]


# TF loads before absl parses flags, so --verbose is read from argv here, in each
# spelling absl takes as true (-verbose, --verbose=true, =t, =1); the last one counts.
_VERBOSE_ARGS = [a for a in _tool_arguments() if re.fullmatch(r"--?(no)?verbose(=.*)?", a)]
VERBOSE = bool(_VERBOSE_ARGS) and re.fullmatch(
        r"--?verbose(=(true|t|1))?", _VERBOSE_ARGS[-1], flags=re.I) is not None
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0" if VERBOSE else \
    os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")

flags.DEFINE_bool("verbose", False, "Show TensorFlow's start-up and C++ log lines, and the "
                  "full traceback of an error.")

HELP_ARGS = ("--help", "-help", "-h", "-?", "--helpshort", "-helpshort")
USAGE_EXIT, ERROR_EXIT = 2, 1
# Expected errors: the input is wrong, not the program. TensorFlow's data and
# argument errors (tf.errors.OpError) are added when TF is loaded.
EXPECTED = (app.UsageError, ValueError, OSError)


def require_numbers(flag_name: str, kind=float) -> None:
    """Checks at parse time that list flag `flag_name` holds numbers of `kind`."""
    def numbers(values):
        try:
            [kind(value) for value in values or []]
        except ValueError:
            return False
        return True
    flags.register_validator(flag_name, numbers, message=f"--{flag_name} takes "
                             f"{'integers' if kind is int else 'numbers'}, comma separated")


def own_flags_help(main_module: str) -> str:
    """Help of the flags the project defines, `main_module`'s first, without absl's and TF's."""
    if main_module == "__main__":
        main_module = sys.argv[0]  # where absl files the flags of `python -m module`
    modules = [m for m in flags.FLAGS.flags_by_module_dict()
               if m == main_module or m.startswith("tsn_tf.")]
    modules.sort(key=lambda m: (m != main_module, m == __name__, m))  # --verbose last
    return "\n\n".join(flags.FLAGS.module_help(m).strip() for m in modules)


def print_help(main) -> None:
    """The docstring of `main`'s module and the project's flags."""
    doc = sys.modules[main.__module__].__doc__ or ""
    print(f"{doc.strip()}\n\n{own_flags_help(main.__module__)}\n\n"
          "--flagfile=FILE reads flags from a file; --helpfull lists every flag, also "
          "absl's and TensorFlow's.")


def error_message(error: BaseException) -> str:
    """At most two lines: the first lines of the error's message, TF's without its
    function and node names and an assertion's brackets."""
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", text)
    # tf.debugging.Assert inside tf.data: "<iterator path>: assertion failed: [message]"
    text = re.sub(r"^(?:.*: )?assertion failed: \[(.*)\]$", r"\1", text.strip(), flags=re.M)
    lines = [line for line in text.splitlines() if line.strip()
             and not line.lstrip().startswith("[[")][:2]
    return "\n".join(lines)


def expected_errors():
    tf = sys.modules.get("tensorflow")
    return EXPECTED + ((tf.errors.OpError,) if tf is not None else ())


def guarded(main, explain=None):
    """`main` that prints an expected error in one or two lines and returns an exit status.

    explain: optional callable(error) -> str or None, a clearer message for a
    TensorFlow error (e.g. which shard and video hold an undecodable frame).
    """
    def wrapped(argv):
        try:
            return main(argv)
        except expected_errors() as error:
            if flags.FLAGS.verbose:
                raise
            message = explain(error) if explain is not None else None
            if sys.stdout.isatty():
                print(flush=True)  # ends a progress bar's line
            print(f"error: {message or error_message(error)}", file=sys.stderr)
            return USAGE_EXIT if isinstance(error, app.UsageError) else ERROR_EXIT
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
    return wrapped


def run(main, explain=None) -> None:
    """Runs an absl `main` as a console script (see the module docstring)."""
    if any(argument in HELP_ARGS for argument in _tool_arguments()):
        print_help(main)
        sys.exit(0)
    app.run(guarded(main, explain))
