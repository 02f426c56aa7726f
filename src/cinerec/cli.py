"""The ``cinerec`` command, built on Typer, drawing tables and progress bars with Rich.

Each command is a function in ``cinerec.commands.<name>`` whose parameters are its
flags; the flags several commands share are defined once, in ``cinerec.commands.flags``,
so a flag means the same thing everywhere. Nothing heavy is imported here or at the top
of a command module: ``cinerec --help`` answers at once, and a command imports torch,
pandas and the rest when it runs.

A mistake a user can make (a bad flag, file, id or setting) is one line on stderr,
``cinerec: error: ...``, and exit status 2, never a traceback.
"""

import errno
import os
import re
import sys
from collections.abc import Callable
from typing import Any

import click
import typer
from click import exceptions as click_errors

import cinerec
from cinerec.commands import data, evaluate, export, quickstart, recommend, run, serve, train
from cinerec.errors import OUT_OF_MEMORY_ADVICE, CinerecError, out_of_memory, spoken_to
from cinerec.io import interrupt_dropped

__all__ = ["app", "main"]

app = typer.Typer(
    name="cinerec",
    help="Movie recommendation from ratings logs to served top-N lists.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain help text: Rich's help panels would double the start-up time of `cinerec --help`.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    suggest_commands=False,  # click suggests the command already: Typer's would say it twice
)
data_app = typer.Typer(name="data", help="Fetch, describe or synthesize MovieLens data.", no_args_is_help=True,
                       suggest_commands=False)
data_app.command("fetch")(data.fetch)
data_app.command("info")(data.info)
data_app.command("synthesize")(data.synthesize)

app.command("quickstart")(quickstart.quickstart)
app.add_typer(data_app)
app.command("evaluate")(evaluate.evaluate)
app.command("train")(train.train)
app.command("run")(run.run)
app.command("recommend")(recommend.recommend)
app.command("similar")(recommend.similar)
app.command("movies")(recommend.movies)
app.command("export")(export.export)
app.command("serve")(serve.serve)


def _show_version(value: bool) -> None:
    if value:
        print(f"cinerec {cinerec.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_show_version,
                                 help="Print the version and exit."),
) -> None:
    """Movie recommendation from ratings logs to served top-N lists."""


#: Flags of the earlier command line, and what replaced them.
_RENAMED = {
    "--model": "the run's saved model is chosen with --run-model NAME",
    "--fold": "use --protocol-option fold=NAME",
    "--models": "use --model NAME (repeatable)",
    "--no-progress": "use --quiet",
}


#: Another command's option, and this command's own for much the same (movies' years).
_ALIKE = {"--min-year": "--year-from", "--max-year": "--year-to"}


def entry() -> None:
    """The ``cinerec`` program (and ``python -m cinerec``): :func:`main`, then leave at once.

    The exit skips the interpreter's teardown. Its native libraries' threads do not all
    survive it: pyarrow's reader may still have a read-ahead task on its thread pool just
    after a file was read (apache/arrow#39862), and a process leaving right then, as one
    does on a bad movie file, aborted in C++ ("terminate called without an active
    exception", exit 134 instead of 2) in about 1 run of 15 on a loaded machine. Every
    file, store and run folder is closed before :func:`main` returns, so nothing is lost.
    """
    status = main()
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):  # done: a late Ctrl-C changes nothing now
        signal.signal(sig, signal.SIG_IGN)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (| head) or stream: nothing more to say
            pass
    os._exit(status)


def script_main(main: Callable[[], int | None]) -> None:
    """How a script of cinerec's (``benchmarks/*.py``) ends: cinerec's own errors (a
    release not downloaded, a bad setting) as one line and exit status 2, as the command
    line says them, not a traceback."""
    try:
        status = main()
    except CinerecError as e:
        print(f"{sys.argv[0]}: error: {_one_line(str(e))}", file=sys.stderr)
        sys.exit(2)
    sys.exit(status or 0)


def main(argv: list[str] | None = None) -> int:
    """Run the command line on ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    from cinerec.commands import flags

    command = _with_argument_help(typer.main.get_command(app))  # (completion options too: get_group leaves them out)
    _help_between_words()
    _printable_streams()
    restore, unswallow = _terminate_as_interrupt(), _interrupts_not_swallowed()
    try:
        flags.forget_piped_configs()  # (one command's: the next pipe by the same /dev/fd name is another)
        with spoken_to("cli", process=True):  # (errors advise flags, not the library's arguments)
            status = _run(command, argv)
        if status == 0 and interrupt_dropped():  # (what it had finished before is kept)
            raise KeyboardInterrupt
        return status
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM after the command itself returned
        _say_error(_interrupted())
        return 130
    finally:
        unswallow()  # (and forgets a dropped interrupt: it belonged to this command alone)
        restore()


def _printable_streams() -> None:
    """stdout and stderr in an encoding short of Unicode (PYTHONIOENCODING=ascii, or a
    Latin-1 locale) write a character they cannot hold as its escape (``\\u6620``): a
    title of other letters ended the command in a traceback."""
    import codecs

    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None)
        try:
            unicode = encoding is None or codecs.lookup(encoding).name.startswith("utf")
        except LookupError:
            unicode = True
        if not unicode and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def _help_between_words() -> None:
    """Help text wrapped between words only: a name such as ml-latest-small, or a file such
    as checkpoint-last.pt, was cut at its hyphen at the end of a line (click wraps as
    Python's textwrap does, which breaks at hyphens)."""
    try:
        from click import _textwrap
    except ImportError:  # pragma: no cover - a click without it wraps as it will
        return
    wrapper = _textwrap.TextWrapper
    if getattr(wrapper, "whole_words", False):
        return

    class WholeWords(wrapper):  # type: ignore[misc, valid-type]
        whole_words = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("break_on_hyphens", False)
            super().__init__(*args, **kwargs)

    _textwrap.TextWrapper = WholeWords  # type: ignore[misc]


#: Options a command takes once, which a user may believe it takes several of (quickstart
#: compares several models): given again, the earlier value would be dropped in silence.
_ONCE = {"train": ("--model", "train fits one model"), "evaluate": ("--model", "evaluate measures one model")}


def _given_twice(argv: list[str], command: click.Command | None = None) -> str | None:
    """The error line for an option that takes one value given more than once, else None
    (click would keep the last in silence: ``recommend --user 1 --user 2`` listed user 2's
    movies alone). The options of :data:`_ONCE` say why they take one."""
    if not argv:
        return None
    name, flags = _single_value_flags(command, argv) if command is not None else (argv[0], [])
    once = _ONCE.get(argv[0])
    if once is not None:  # said first, and why
        flags = [once[0], *(f for f in flags if f != once[0])]
    takes = _value_options(command, argv) if command is not None else set(flags)
    for flag in flags:
        values = _values_of(argv, flag, takes)
        if len(values) < 2:
            continue
        said = f"{name}: {flag} given {len(values)} times ({', '.join(values)}): "
        if once is not None and flag == once[0]:
            return f"{said}{once[1]}; quickstart or a study file (cinerec run) compares several"
        return f"{said}it takes one"
    return None


def _values_of(argv: list[str], flag: str, takes: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Each value ``flag`` is given in ``argv``: ``--seed 1``, ``--seed=1``, and for a short
    option ``-k 3`` and ``-k3``. ``takes``: the options that take a value, whose value is
    never read as an option (``--db -kdb.sqlite`` names a file, not ``-k``)."""
    short = not flag.startswith("--")
    values = []
    value_next = False
    for i, a in enumerate(argv):
        if value_next:  # another option's value
            value_next = False
            continue
        if a == "--":  # what follows is no option
            break
        if a == flag and i + 1 < len(argv):
            values.append(argv[i + 1])
            value_next = True
        elif a.startswith(flag + "=") and not short:
            values.append(a.split("=", 1)[1])
        elif short and a.startswith(flag) and len(a) > len(flag):
            values.append(a[len(flag):])
        elif a in takes:
            value_next = True
    return values


def _value_options(command: click.Command, argv: list[str]) -> set[str]:
    """Every option of the (sub)command ``argv`` names that takes a value."""
    sub = _subcommand(command, argv)[1]
    if sub is None:
        return set()
    return {opt for p in sub.params if isinstance(p, click.Option) and not p.is_flag and not p.count for opt in p.opts}


def _subcommand(command: click.Command, argv: list[str]) -> tuple[list[str], click.Command | None]:
    """The words of ``argv`` that name a (sub)command (``data info``) and that command."""
    sub: click.Command | None = command
    words: list[str] = []
    for word in argv[:2]:
        if not isinstance(sub, click.Group):
            break
        sub = sub.commands.get(word)
        words.append(word)
    return words, sub


def _single_value_flags(command: click.Command, argv: list[str]) -> tuple[str, list[str]]:
    """The (sub)command ``argv`` names (``data info``) and its options that take one value
    each (``--seed``, ``-k``)."""
    words, sub = _subcommand(command, argv)
    if sub is None or isinstance(sub, click.Group):
        return argv[0], []
    return " ".join(words), [opt for p in sub.params if isinstance(p, click.Option) and not p.multiple
                             and not p.is_flag and not p.count and p.nargs == 1 for opt in p.opts
                             if opt.startswith("--") or len(opt) == 2]


def _stray_word(command: click.Command, argv: list[str]) -> str | None:
    """The first word of ``argv`` that is neither the command's name, an option, nor an
    option's value, for a command that takes options alone; else ``None``."""
    if any(isinstance(p, click.Argument) for p in command.params):
        return None
    takes = {opt: p.nargs for p in command.params if isinstance(p, click.Option) and not p.is_flag and not p.count
             for opt in p.opts}
    words = argv[:]
    while words and words[0] != command.name:  # (past the group's words: "data info")
        words.pop(0)
    words = words[1:]
    skip = 0
    for word in words:
        if skip:
            skip -= 1
        elif word == "--":
            return None
        elif word.startswith("-"):
            skip = 0 if "=" in word else takes.get(word, 0)
        else:
            return word
    return None


#: Options naming a file or folder: an empty name would be read as the folder one is in.
_PATHS = ("--out", "--run", "--db", "--catalog", "--config", "--profiles")


def _empty_path(argv: list[str]) -> str | None:
    """The error line for a file or folder option given an empty name, else None."""
    for i, a in enumerate(argv):
        flag, eq, value = a.partition("=")
        if flag not in _PATHS or (not eq and i + 1 == len(argv)):
            continue
        value = value if eq else argv[i + 1]
        if not value.strip():
            return f"{flag} {value!r}: give a name (an empty one would be the folder you are in)"
    return None


#: The commands whose processes share their work under torchrun (docs/distributed.md).
SHARED_UNDER_TORCHRUN = ("train", "evaluate", "export")


def _one_process(argv: list[str]) -> str | None:
    """Under torchrun, a command that runs in one process (``run``, ``quickstart``,
    ``serve``...): every process would run it whole, print everything and write the same
    files, racing each other."""
    from cinerec.processes import distributed_context

    world = distributed_context().world
    name = next((a for a in argv if not a.startswith("-")), None)
    if world < 2 or name is None or name in SHARED_UNDER_TORCHRUN or {"--help", "-h"} & set(argv):
        return None
    reads = name in ("recommend", "similar", "movies") or (name == "data" and argv[argv.index(name) + 1:][:1] == ["info"])
    doing = "print the same lines" if reads else "write the same files"  # (these write no file)
    return (f"{name}: runs in one process; under torchrun ({world} processes) every process would run it whole "
            f"and {doing}: run it without torchrun ({', '.join(SHARED_UNDER_TORCHRUN)} share their "
            "work under torchrun)")


def _help_asked(command: click.Command, argv: list[str]) -> list[str] | None:
    """The words that show the help of the (sub)command ``argv`` names when ``-h`` or
    ``--help`` is among its words, else None: help wins over the rest of the line, even
    where ``-h`` came right after an option that takes a value (``run --out -h`` was read
    as a run folder named "-h")."""
    words: list[str] = []
    sub: click.Command | None = command
    for a in argv:
        if a == "--":
            return None
        if a in ("-h", "--help"):
            return [*words, "--help"]
        if isinstance(sub, click.Group) and a in sub.commands:
            sub = sub.commands[a]
            words.append(a)
    return None


def _grouped_number(command: click.Command, argv: list[str]) -> str | None:
    """The error line for a number option given digits grouped by ``_`` (``--tune 3_0``):
    Python's ``int`` reads it as 30, where a slip of the keyboard is as likely."""
    words, sub = _subcommand(command, argv)
    if sub is None or isinstance(sub, click.Group):
        return None
    from cinerec.commands.flags import _stars

    numbers = (click.types.IntParamType, click.types.FloatParamType)
    takes = _value_options(command, argv)
    for param in sub.params:
        # (and a number read by a function of its own: --liked-threshold's float())
        if not isinstance(param, click.Option) or not (isinstance(param.type, numbers) or (
                isinstance(param.type, click.types.FuncParamType) and param.type.func is _stars)):
            continue
        for flag in param.opts:
            for value in _values_of(argv[len(words):], flag, takes):
                if "_" in value:
                    return f"{' '.join(words)}: {flag} {value!r}: write the number with digits alone (no _)"
    return None


def _value_missing(command: click.Command, argv: list[str]) -> str | None:
    """The error line for an option given no value before the next option of the same
    command (``evaluate --model --protocol loo-full``): click took ``--protocol`` as the
    model and said that ``loo-full`` was an unexpected argument."""
    words, sub = _subcommand(command, argv)
    if sub is None or isinstance(sub, click.Group):
        return None
    options = {opt for p in sub.params if isinstance(p, click.Option) for opt in (*p.opts, *p.secondary_opts)}
    takes = _value_options(command, argv)
    for i, a in enumerate(argv[len(words):-1], len(words)):
        if a == "--":
            break
        if a in takes and argv[i + 1] in options:
            return f"{' '.join(words)}: {a} needs a value (the next word, {argv[i + 1]}, is an option)"
        if a in takes and argv[i + 1].startswith("--") and len(argv[i + 1]) > 2:
            # A misspelt option (export --db --quite) was taken as the value: a store named
            # "--quite" was written, and the command ended well.
            from cinerec.errors import closest

            close = closest(argv[i + 1].split("=", 1)[0], sorted(options))
            hint = f"; did you mean {close}?" if close else ""
            return (f"{' '.join(words)}: {a} needs a value (the next word, {argv[i + 1]}, looks like an option{hint}); "
                    f"a value that starts with -- is given as {a}={argv[i + 1]}")
    return None


def _run(command: click.Command, argv: list[str] | None) -> int:
    given = sys.argv[1:] if argv is None else list(argv)
    helping = _help_asked(command, given)
    if helping is not None:
        argv = given = helping
    if (helping is not None or "--version" in given) and not _speaks():
        return 0  # under torchrun rank 0 alone shows the help or version (each rank printed it)
    from cinerec.processes import environment_problem

    wrong = ((environment_problem() if helping is None and "--version" not in given else None)
             or _given_twice(given, command) or _empty_path(given) or _one_process(given)
             or _value_missing(command, given) or _grouped_number(command, given))
    if wrong is not None:
        _say_error(f"cinerec: error: {wrong}")
        return 2
    try:
        status = command.main(args=argv, prog_name="cinerec", standalone_mode=False)
    except CinerecError as e:
        _say_error(f"cinerec: error: {_one_line(str(e))}")
        return 2
    except click_errors.ClickException as e:
        return _usage_error(e, command, given)
    except (MemoryError, RuntimeError) as e:  # NumPy's MemoryError; torch's is a RuntimeError
        if isinstance(e, RuntimeError) and _peer_lost(e):
            said = re.sub(r"^\[[^\]]*\]\s*", "", _one_line(str(e))).split(". ")[0][:200]  # no source path
            _say_error(f"cinerec: error: another process of this torchrun job stopped ({said}); "
                       f"a train run that had saved a checkpoint keeps its folder, and the same command with --resume "
                       f"goes on from it (one stopped before its first checkpoint is removed, or left holding no "
                       f"checkpoint where rank 0 itself stopped: the same command starts it again)",
                       peer_lost=True)
            return 1
        if isinstance(e, RuntimeError) and not out_of_memory(e):
            raise
        _say_error(f"cinerec: error: out of memory ({_one_line(str(e)) or 'an allocation failed'}); "
                   f"{OUT_OF_MEMORY_ADVICE}")
        return 2
    except typer.Abort:
        _say_error(_interrupted())
        return 130
    except BrokenPipeError:
        _stdout_to_devnull()
        return 0
    except SystemExit:
        if type(sys.stdout).__name__ == "_PacifyFlushWrapper":  # click's answer to a reader gone (EPIPE): exit 1
            _stdout_to_devnull()
            return 0  # `cinerec recommend ... | head -1` read what it wanted
        raise
    except OSError as e:
        if e.errno not in _WRITE_FAILURES:
            raise
        what = e.filename
        if what is None and not _flushes(sys.stdout):  # the output itself, which would fail again at exit
            what = "the output"
            _stdout_to_devnull()
        _say_error(f"cinerec: error: cannot write {what}: {e.strerror}" if what else f"cinerec: error: {e.strerror}")
        return 2
    if status == 130:  # typer's answer to Ctrl-C, returned rather than raised
        _say_error(_interrupted())
    return status if isinstance(status, int) else 0


def _with_argument_help(command: click.Command) -> click.Command:
    """``command`` with each positional argument's help (``typer.Argument(help=...)``) said
    under the command's own help: plain help lists the argument by its name alone."""
    import typing

    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _with_argument_help(sub)
        return command
    callback = command.callback
    if callback is None:
        return command
    try:
        hints = typing.get_type_hints(callback, include_extras=True)
    except Exception:  # (a callback whose hints do not resolve: its help as it is)
        return command
    said = []
    for param in command.params:
        if not isinstance(param, click.Argument):
            continue
        info = next((m for m in getattr(hints.get(param.name or ""), "__metadata__", ())
                     if isinstance(m, typer.models.ArgumentInfo) and m.help), None)
        if info is not None and info.help and info.help not in (command.help or ""):
            # ("[WORDS]..." of an argument taking many: "WORDS")
            name = (param.metavar or (param.name or "").upper()).removesuffix("...").strip("[]")
            said.append(f"{name}: {info.help}")
    if said:
        command.help = "\n\n".join([(command.help or "").rstrip(), *said]).strip()
    return command


def _terminate_as_interrupt() -> Callable[[], object]:
    """SIGTERM (``kill``, ``docker stop``, systemd) stops a command as Ctrl-C does: what it
    was writing is cleaned up and nothing finished is touched, instead of the process
    ending where it stands and leaving temporary files behind. ``serve`` installs its own."""
    import signal
    import threading

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread() \
            and signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, interrupt)
        return lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL)
    return lambda: None


def _interrupts_not_swallowed() -> Callable[[], object]:
    """A Ctrl-C or SIGTERM that lands in code Python runs on its own (a weak reference's
    callback, a finalizer) is dropped there, printed as "Exception ignored": the command
    went on, saved its run and exited 0. Such an interrupt is noted instead: nothing is
    put in place after it (:mod:`cinerec.io`), and the command ends as interrupted."""
    from cinerec.io import note_dropped_interrupt, note_finished

    previous = sys.unraisablehook
    note_dropped_interrupt(False)
    note_finished()

    def hook(unraisable: Any) -> None:
        if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
            note_dropped_interrupt()
        else:
            previous(unraisable)

    sys.unraisablehook = hook

    def restore() -> None:
        sys.unraisablehook = previous
        note_dropped_interrupt(False)
        note_finished()  # (what this command wrote, said only by its own interrupt)

    return restore


def _usage_error(error: click_errors.ClickException, root: click.Command, argv: list[str]) -> int:
    ctx = error.ctx if isinstance(error, click_errors.UsageError) else None
    message = error.format_message()
    if isinstance(error, click_errors.NoArgsIsHelpError):  # a bare group: the message is its help
        print(message, file=sys.stderr)
        return 2
    # (an option missing its value comes without a context: the command is read off argv,
    # else it said "see cinerec --help")
    named = _single_value_flags(root, argv)[0] if argv and isinstance(root, click.Group) and argv[0] in root.commands \
        else ""
    where = ctx.command_path if ctx is not None else f"cinerec {named}".strip()
    if isinstance(error, click_errors.NoSuchOption) and ctx is not None:
        name = error.option_name
        takes = {opt for p in ctx.command.params for opt in p.opts}
        hint = _RENAMED.get(name) if name != "--model" or "--run-model" in takes else None
        if name == "--json":
            message = (f"--json: {where} prints no figures to give as JSON "
                       f"(--json works with: {', '.join(_json_commands(root))})")
        elif hint is not None:
            message = f"no such option {name}: {hint}"
        elif name and name.startswith("--") and "-" + name[2:] in takes:  # (--k: click offered nothing)
            message = f"no such option {name}: did you mean -{name[2:]}?"
        elif name and ctx.parent is not None and name in {opt for p in root.params for opt in p.opts}:
            message = f"no such option {name}: it is an option of cinerec itself, given before any command " \
                      f"(cinerec {name})"
        elif owners := _commands_taking(root, name):
            # Another command's option (recommend --tune 3): click offered the closest names
            # of this command ("Did you mean --quiet, --run, --user?").
            message = f"no such option {name}: it is an option of {_listed(owners)}, not of {where}"
            alike = _ALIKE.get(name or "")
            if alike is not None and alike in takes:
                message += f", which takes {alike}"
    if isinstance(error, click_errors.MissingParameter) and ctx is not None \
            and (stray := _stray_word(ctx.command, argv)) is not None:
        # (cinerec evaluate help: click said "Missing option '--data'", its check of extra words coming after)
        message = f"unexpected extra argument {stray!r}: {where} takes options alone"
    # (click names a bounded number's type "integer range": -k abc "is not a valid integer range")
    message = message.replace("is not a valid integer range.", "is not a valid integer.") \
        .replace("is not a valid float range.", "is not a valid float.")
    command = where.removeprefix("cinerec").strip()
    _say_error(f"cinerec: error: {command + ': ' if command else ''}{_one_line(message)} (see {where} --help)")
    return 2


def _commands_taking(root: click.Command, option: str | None) -> list[str]:
    """The commands (``cinerec data info``...) that take ``option``."""
    found: list[str] = []

    def walk(command: click.Command, path: str) -> None:
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, f"{path} {name}")
        elif any(option in (*p.opts, *getattr(p, "secondary_opts", ())) for p in command.params):
            found.append(path.removeprefix("cinerec "))

    if option:
        walk(root, "cinerec")
    return found


def _listed(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _peer_lost(error: RuntimeError) -> bool:
    """Whether ``error`` is a collective step's failure under torchrun because another
    process is gone (killed, out of memory, its machine down): torch's ``DistError``, or
    the transport's words for a closed connection."""
    from cinerec.processes import distributed_context

    if distributed_context().world < 2:
        return False
    torch = sys.modules.get("torch")
    dist_error = getattr(getattr(torch, "distributed", None), "DistError", None)
    if dist_error is not None and isinstance(error, dist_error):
        return True
    text = str(error)
    return any(words in text for words in ("Connection closed by peer", "Connection reset by peer", "Broken pipe",
                                           "NCCL communicator was aborted"))


#: Errors of a disk or pipe that cannot take what is written (full, over quota, failing).
_WRITE_FAILURES = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG}



def _flushes(stream: object) -> bool:
    """False when flushing ``stream`` fails with an OSError (what is buffered cannot go)."""
    try:
        stream.flush()  # type: ignore[attr-defined]
    except OSError:
        return False
    except (AttributeError, ValueError):
        pass
    return True


def _stdout_to_devnull() -> None:
    """Point standard output at /dev/null, so that Python's last flush of what is still
    buffered for it does not fail again (and print its own traceback) on the way out."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.__stdout__.fileno() if sys.__stdout__ else 1)
    except (OSError, ValueError):
        pass


#: Seconds another rank waits, after its own mistake, for torchrun to end it because rank 0
#: stopped too (having said the same): only a mistake of its own alone is then its to say.
#: (2 s was too short on a loaded 2-core machine: rank 0 took longer to end, and rank 1 said
#: the same line again.)
RANK_ERROR_WAIT_S = 5.0


def _speaks() -> bool:
    """Whether this process prints what the whole command has to say: under torchrun,
    rank 0 alone."""
    from cinerec.processes import distributed_context

    return distributed_context().is_main


def _interrupted() -> str:
    """The line of a command stopped by a signal. Under ``torchrun`` that may be torchrun
    ending the job because another process failed (its own line says why), not Ctrl-C."""
    from cinerec.processes import distributed_context

    from cinerec.io import finished_outputs

    written = finished_outputs()
    # (after a store was put in place: "interrupted" alone read as if the old one were kept)
    done = f"; {' and '.join(written)} had been written in full before" if written else ""
    if distributed_context().active:
        return f"cinerec: interrupted (by Ctrl-C, or by torchrun ending the job because another process failed){done}"
    return f"cinerec: interrupted{done}"


def _say_error(line: str, peer_lost: bool = False) -> None:
    """Print a mistake's one line. Under ``torchrun`` every process reads the same command
    line and data and nearly always finds the same mistake, so rank 0 says it; another
    rank first waits (:data:`RANK_ERROR_WAIT_S`) to be stopped, as torchrun stops every
    process once one has failed, and says its own line, naming its rank, only when it was
    not: a mistake of that process alone (its machine lacks the data), which rank 0 cannot
    know. The wait also lets rank 0 say the mistake before torchrun ends it for another
    rank's failure (it said "interrupted" instead).

    A process of the job lost (``peer_lost``) is said by rank 1 too, at once: the one
    lost may be rank 0, and torchrun stops the others as soon as it is gone, so no line
    came at all."""
    from cinerec.commands.show import visible
    from cinerec.processes import distributed_context

    line = visible(line)  # (a path of the user's files, as a folder's contents named it, may hold ESC)
    me = distributed_context()
    if me.is_main:
        print(line, file=sys.stderr)
    elif peer_lost and me.rank == 1:
        print(line.replace("cinerec: error: ", f"cinerec: error: rank {me.rank}: ", 1), file=sys.stderr)
    elif line.startswith("cinerec: error: ") and not _stopped_within(RANK_ERROR_WAIT_S):
        print(line.replace("cinerec: error: ", f"cinerec: error: rank {me.rank}: ", 1), file=sys.stderr)


def _stopped_within(seconds: float) -> bool:
    """Whether SIGTERM or SIGINT came within ``seconds`` (taken, not raised)."""
    import signal
    import threading
    import time

    if threading.current_thread() is not threading.main_thread():
        return False
    came: list[int] = []
    old = {sig: signal.signal(sig, lambda signum, frame: came.append(signum)) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        end = time.monotonic() + seconds
        while not came and time.monotonic() < end:
            time.sleep(0.05)
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return bool(came)


def _json_commands(command: click.Command, path: str = "") -> list[str]:
    """The commands that take ``--json``, e.g. ``data info``, found in the command tree."""
    found: list[str] = []
    if not isinstance(command, click.Group):
        return found
    for name, cmd in command.commands.items():
        full = f"{path} {name}".strip()
        if isinstance(cmd, click.Group):
            found += _json_commands(cmd, full)
        elif any("--json" in p.opts for p in cmd.params):
            found.append(full)
    return found


def _one_line(text: str) -> str:
    return "; ".join(part.strip() for part in text.strip().splitlines() if part.strip())


if __name__ == "__main__":
    sys.exit(main())
