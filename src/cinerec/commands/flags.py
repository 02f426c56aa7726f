"""The command line's one vocabulary: each shared flag is defined once, here.

A flag means the same thing on every command that takes it:

``--data SOURCE``            the ratings to read: a release name, a folder, an official zip or a log.
``--model NAME``             a model to create and fit, by its registered name.
``--config FILE.toml``       the model's settings from a TOML file.
``--set KEY=VALUE``          one model setting (repeatable); wins over ``--config``.
``--protocol NAME``          the evaluation protocol.
``--protocol-option K=V``    one option of that protocol (repeatable).
``--seed N``                 the seed of everything random the command does.
``--json``                   figures as one JSON object on stdout instead of tables.
``--quiet``                  no progress bars and no chatter on stderr.
``--run DIR``                a run folder to read (written by ``train`` or ``quickstart``).
``--run-model NAME``         which of that run's saved models to use (never ``--model``).
``--columns ROLE=NAME,...``  a ratings log's column names (user, item, rating, time).
``--catalog FILE``           a ratings log's movie file (ids, titles, genres, years).
``--min-year``, ``--max-year``, ``--top-users``, ``--top-movies``, ``--kcore``,
``--implicit``, ``--liked-threshold``   filters, applied right after reading, in the one
                             order of :mod:`cinerec.data.filters`.
``--tune TRIALS``            search the model's settings first, on a carve-out of the training part.

The functions below turn those flags into values: the model, the protocol. They check
every name and value before any data is read, so a typo costs no waiting. Only the
standard library and Typer are imported at module level: the command line starts fast
because each command imports the heavy libraries it needs when it runs.
"""

import functools
import inspect
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, Collection, Mapping

import typer

from cinerec.config import MAX_SEED, TOO_MANY_DIGITS

if TYPE_CHECKING:
    from cinerec.data.dataset import Dataset
    from cinerec.evaluation.protocols import Protocol as EvaluationProtocol
    from cinerec.models import Recommender

__all__ = [
    "Data", "Model", "ConfigFile", "Set", "Protocol", "ProtocolOption", "Seed", "Json", "Quiet", "RunDir",
    "RunModel", "complete_model_name", "complete_protocol_name", "read_config_file", "make_model",
    "default_protocol", "make_protocol", "protocol_for",
    "Columns", "CatalogFile", "MinYear", "MaxYear", "TopUsers", "TopMovies", "KCore", "Implicit", "LikedThreshold",
    "FILTER_FLAGS", "with_filters", "make_filters", "data_source", "load_data", "popularity_floor", "Tune", "check_tune",
]


def complete_model_name(incomplete: str) -> list[str]:
    """Shell completion of ``--model``: the registered names starting with ``incomplete``."""
    from cinerec.models import MODELS

    return [name for name in sorted(MODELS) if name.startswith(incomplete)]


def complete_protocol_name(incomplete: str) -> list[str]:
    """Shell completion of ``--protocol``."""
    from cinerec.evaluation.protocols import PROTOCOLS

    return [name for name in PROTOCOLS if name.startswith(incomplete)]


Data = Annotated[str, typer.Option(
    "--data", metavar="SOURCE", show_default=False,
    help="The ratings: a release name (ml-100k, ml-1m, ml-10m, ml-20m, ml-25m, ml-32m, ml-latest-small, ml-latest), "
         "a folder holding a release, its official zip, or a ratings log of your own (a .csv, .tsv or "
         ".parquet file, or a folder of them).")]
Model = Annotated[str, typer.Option(
    "--model", metavar="NAME", show_default=False, autocompletion=complete_model_name,
    help="A model to create and fit, by name (a wrong name lists them all).")]


def home(value: Any) -> Any:
    """A path given with a leading ``~`` that no shell expanded (``--out=~/runs``, or quoted)
    read as in the home folder, as --data reads it: a folder named ``~`` was made where
    the command ran. A URL is left as it is."""
    if isinstance(value, Path) and str(value).startswith("~"):  # (~nobody/x, no such user's: as it is)
        return Path(os.path.expanduser(value))
    if isinstance(value, str) and value.startswith("~"):
        return os.path.expanduser(value)
    return value


ConfigFile = Annotated[Path | None, typer.Option(
    "--config", metavar="FILE.toml", show_default=False, callback=home,
    help="The model's settings from a TOML file (- reads it from the standard input): keys at top level, "
         "tables only for table settings (a blend member's in [settings.NAME]).")]
Set = Annotated[list[str] | None, typer.Option(
    "--set", metavar="KEY=VALUE", show_default=False,
    help="One model setting, the value in TOML syntax (repeatable: a key given again takes the later "
         "value; a dotted key sets one entry of a table, settings.bpmf.sweeps=300); wins over --config.")]
def _protocol_named(value: str | None) -> str | None:
    if value is not None and not value.strip():  # (it was taken as not given: the default ran)
        raise typer.BadParameter("give a protocol name (leave --protocol out for the model's default)")
    return value


Protocol = Annotated[str | None, typer.Option(
    "--protocol", metavar="NAME", show_default=False, autocompletion=complete_protocol_name,
    callback=_protocol_named,
    help="The evaluation protocol (docs/protocols.md) [default: ratings-random for rating models, "
         "else loo-sampled].")]
ProtocolOption = Annotated[list[str] | None, typer.Option(
    "--protocol-option", metavar="KEY=VALUE", show_default=False,
    help="One option of the protocol, e.g. fold=u2 or valid=true (repeatable: a key given again takes "
         "the later value).")]
Seed = Annotated[int, typer.Option(
    "--seed", min=0, max=MAX_SEED, help="The seed of the split, the sampling and the model (unless a setting gives the model one).")]
#: quickstart's: it takes no model settings.
SeedOfAll = Annotated[int, typer.Option(
    "--seed", min=0, max=MAX_SEED, help="The seed of the split, the sampling and the models.")]
Json = Annotated[bool, typer.Option("--json", help="Print the figures as one JSON object on stdout.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars and no chatter on stderr.")]
RunDir = Annotated[Path, typer.Option(
    "--run", metavar="DIR", show_default=False, callback=home, help="A run folder written by cinerec train, quickstart or run.")]
def _named(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise typer.BadParameter("give a model name (leave --run-model out for the run's best)")
    return value


RunModel = Annotated[str | None, typer.Option(
    "--run-model", metavar="NAME", show_default=False, callback=_named,
    help="Which of the run's saved models [default: the run's best; serve --db: the one the store was "
         "exported from, when it is one of the run's].")]


#: What a ``--config`` that is no plain file (a pipe, ``<(...)``) held, for the command
#: that reads it: read once, it is empty the second time, and the settings it gave were
#: searched by ``--tune``. Forgotten as each command starts (:func:`forget_piped_configs`).
_PIPED_CONFIGS: dict[str, bytes] = {}


def forget_piped_configs() -> None:
    """Let the next command read its ``--config`` pipe anew (a pipe opened later may have
    the same ``/dev/fd/N`` name)."""
    _PIPED_CONFIGS.clear()


def _config_bytes(path: Path) -> bytes:
    import stat

    if str(path) == "-":  # the standard input, as "-" names it for most tools (it was "no such file")
        if "-" not in _PIPED_CONFIGS:
            _PIPED_CONFIGS["-"] = sys.stdin.buffer.read()
        return _PIPED_CONFIGS["-"]
    if stat.S_ISREG(path.stat().st_mode):  # (read anew: a notebook may run again after an edit)
        return path.read_bytes()
    key = str(path)
    if key not in _PIPED_CONFIGS:
        _PIPED_CONFIGS[key] = path.read_bytes()
    return _PIPED_CONFIGS[key]


def read_config_file(path: Path, model_class: type["Recommender"]) -> dict[str, Any]:
    """Settings of a ``model_class`` model from a TOML file, or one clear line saying why not.

    Keys sit at top level (``epochs = 30``). A table is read only where the model has a
    table-valued setting, e.g. a blend member's ``[settings.bpmf]``; any other table is
    refused, naming it and the file.
    """
    import dataclasses
    import tomllib
    import typing

    from cinerec.errors import ConfigError

    try:
        raw = _config_bytes(path)
        # The byte-order mark some editors write first (a study file may hold one too).
        values = tomllib.loads(raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--config {path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"--config {path}: is a folder, not a TOML file") from None
    except OSError as e:  # a path inside a file, a file that cannot be read
        raise ConfigError(f"--config {path}: cannot be read ({(e.strerror or str(e)).lower()})") from None
    except tomllib.TOMLDecodeError as e:
        from cinerec.config import toml_error

        raise toml_error(path, e) from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML (byte {e.start + 1} is not UTF-8 text)") from None
    except ValueError:  # a number of thousands of digits: Python's own limit, not TOML's
        raise ConfigError(f"{path}: {TOO_MANY_DIGITS}") from None
    config_cls = model_class.Config
    hints = typing.get_type_hints(config_cls)
    tables = [f.name for f in dataclasses.fields(config_cls) if typing.get_origin(hints[f.name]) is dict]
    for key, value in values.items():
        if isinstance(value, dict) and key not in tables:
            where = f"its table settings: {', '.join(f'[{t}]' for t in tables)}" if tables \
                else "put its settings at the top level"
            raise ConfigError(f"{path}: table [{key}] is not a table setting of {model_class.name} ({where})")
    return values


def make_model(name: str, config: Path | None, sets: list[str] | None, seed: int,
               protocol: str | None = None, filters: Any = None) -> "Recommender":
    """The model ``--model`` names, set up from ``--config``, then ``--set``, then ``--seed``.

    ``--set`` wins over the file; ``--seed`` becomes the model's seed when it has one and
    no setting gave it. A mistake names where it was made: the file, or ``--set``. Under
    ``protocol`` (``--protocol``, when given) the settings pass through the protocol's
    one rule for models trained for stars (``Protocol.settings_for``): ``mf`` under a
    ranking protocol trains for ranking unless a loss was chosen.
    """
    from cinerec.errors import ConfigError
    from cinerec.models.base import model_class as class_of

    model_class = class_of(name)  # an unknown name is one line listing the known ones
    if config is None:
        return _made(name, model_class, None, sets, seed, protocol, filters)
    try:
        return _made(name, model_class, config, sets, seed, protocol, filters)
    except ConfigError as e:
        raise _config_line(config, e) from None


def _made(name: str, model_class: type["Recommender"], config: Path | None, sets: list[str] | None, seed: int,
          protocol: str | None, filters: Any) -> "Recommender":
    from cinerec.config import parse_set_options
    from cinerec.evaluation.protocols import get_protocol

    file_values = read_config_file(config, model_class) if config is not None else {}
    set_values = parse_set_options(sets)
    kept = {k: v for k, v in file_values.items() if k not in set_values}  # --set wins, bad file value or not
    values = {**file_values, **set_values}
    # Judged together (a rule across settings may take one from each: index = "ivf" in the
    # file, index_nlist by --set); a mistake is blamed on the file, on --set, or on both
    # when neither makes it alone.
    where = f"{config} with --set" if kept and set_values else "--set" if set_values or not file_values \
        else str(config)
    sources = [([file_values, kept], str(config)), ([set_values], "--set")]

    def create(v: dict[str, Any], w: str) -> "Recommender":
        return _create(name, v, w)

    # The protocol's rule for models trained for stars, under --protocol or the default
    # one the model gets without it (mf with loss="bpr" is measured by loo-sampled).
    chosen = get_protocol(protocol or default_protocol(_blamed(create, values, where, sources)))
    chosen.starless = starless(filters)
    values = _blamed(lambda v, w: chosen.settings_for(model_class, v, w), values, where, sources)
    model = _blamed(create, values, where, sources)
    if "seed" in model.config.to_dict() and "seed" not in values:
        model = _create(name, {**values, "seed": seed}, where)
    def source(key: str) -> str | None:  # where a setting was given: --set, the file, or None for a default
        return "--set" if key in set_values else str(config) if key in file_values else None

    _check_saved_stages(model, source)
    _check_processes(model)
    _check_device(model, source("device"))
    return model


def _check_saved_stages(model: "Recommender", source: Callable[[str], str | None]) -> None:
    """A two-stage model's saved stage (``ranker_path``, ``retriever_path``), checked before
    the data is read, as every other setting is: a folder with no saved model, or one of
    another model than the stage names, was found after the data load, and said with no
    word of the setting or where it was given (``source(key)``: ``--set``, the file, or
    None for a default)."""
    from cinerec.config import shown
    from cinerec.errors import ConfigError, DataError
    from cinerec.models.base import saved_model_info

    for stage in ("retriever", "ranker"):
        path = getattr(model.config, f"{stage}_path", "")
        if not path:
            continue
        key = f"{stage}_path"
        try:
            held = saved_model_info(path)["model"]
        except DataError as e:
            raise ConfigError(f"{source(key)}: {key} = {shown(path)}: {e}") from None
        except OSError as e:  # (a name too long for the system, say)
            raise ConfigError(f"{source(key)}: {key} = {shown(path)}: cannot be read ({e.strerror or e})") from None
        if held != getattr(model.config, stage):
            # (the two may come from the file and --set: both are named, as a rule across settings is)
            given = {source(key), source(stage)} - {None}  # (--set, the file, or both)
            where = f"{(given - {'--set'}).pop()} with --set" if len(given) > 1 else given.pop()
            raise ConfigError(f"{where}: {key} = {shown(path)}: holds a saved {held} model, and {stage} is "
                              f"{shown(getattr(model.config, stage))}")


def _config_line(path: Path, e: Exception) -> Exception:
    """A refusal blamed on ``--config`` FILE alone, said at the line of the file that sets
    the key it names (``FILE:LINE: key = ...``, as a study file's mistakes are); ``e`` as
    it is when it names no key the file is seen to set, or blames ``--set`` too."""
    import re

    from cinerec.errors import ConfigError
    from cinerec.studies import key_line

    said, start = str(e), f"{path}: "
    if not said.startswith(start):  # blamed on --set, or on the file with --set
        return e
    rest = said[len(start):]
    # "key = value: rule", "unknown key 'key'", "'key' was renamed", "table [key]", each
    # maybe behind the table holding it ("settings.ease: unknown key 'lamda'").
    table_said = re.match(r"([\w.-]+): ", rest)
    table = tuple(table_said[1].split(".")) if table_said else ()
    said_key = rest[table_said.end():] if table_said else rest
    named = re.match(r"(?:unknown key '|table \[|')?([\w-]+)(?:'| =|\])", said_key)
    if named is None:
        return e
    try:
        text = _config_bytes(path).removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except (OSError, UnicodeError):
        return e
    line = key_line(text, table, named[1])
    for i in range(len(table), 0, -1):  # inside an inline table: the line of the key holding it
        if line is not None:
            break
        line = key_line(text, table[:i - 1], table[i - 1])
    return ConfigError(f"{path}:{line}: {rest}") if line is not None else e


def _blamed(check: Callable[[dict[str, Any], str], Any], values: dict[str, Any], where: str,
            sources: list[tuple[list[dict[str, Any]], str]]) -> Any:
    """``check(values, where)``; when it refuses them, the same mistake is named on the one
    source that makes it alone, else on ``where``. Each source gives its values as written,
    then, when those are refused for another mistake, what is left of them past --set (a
    file's bad value that --set replaced); a source whose values as written pass makes
    no mistake alone."""
    from cinerec.errors import ConfigError

    try:
        return check(values, where)
    except ConfigError as e:
        said = str(e).removeprefix(f"{where}: ")
        for parts, named in sources:
            for part in parts:
                if not part or part == values:
                    break
                try:
                    check(part, named)
                except ConfigError as alone:
                    if str(alone).removeprefix(f"{named}: ") == said:
                        raise alone from None
                    continue  # refused for another mistake: what is left past --set, next
                break  # as written it passes: the mistake is not this source's alone
        raise


def _check_device(model: "Recommender", where: str | None) -> None:
    """:func:`cinerec.training.check_device`, naming where the device was set."""
    if "device" not in model.config.to_dict():  # (a model trained in epochs has one)
        return
    from cinerec.errors import ConfigError
    from cinerec.training import check_device

    try:
        check_device(model)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}" if where else str(e)) from None


def _check_processes(model: "Recommender") -> None:
    """Under ``torchrun`` only the neural models share their training between processes;
    any other would be fitted whole by every process, and its run would say it was
    trained by all of them."""
    from cinerec.errors import ConfigError
    from cinerec.models.neural import NeuralRecommender
    from cinerec.processes import distributed_context

    world = distributed_context().world
    if world > 1 and not isinstance(model, NeuralRecommender):
        raise ConfigError(f"--model {model.name}: under torchrun ({world} processes) only the neural models share "
                          f"their training, and every process would fit {model.name} whole; run it without torchrun "
                          "(export runs under torchrun for any model)")


def _create(name: str, values: dict[str, Any], where: str) -> "Recommender":
    from cinerec.errors import ConfigError
    from cinerec.models import create

    try:
        return create(name, values, where=where)
    except ConfigError as e:
        if str(e).startswith(where):
            raise
        raise ConfigError(f"{where}: {e}") from None  # a rule across settings: say where they came from


def default_protocol(model: "Recommender") -> str:
    """The protocol used when ``--protocol`` is not given: stars for rating models, else ranking."""
    return "ratings-random" if model.task == "rating" else "loo-sampled"


def starless(filters: Any) -> str:
    """The filter flags among ``filters`` that leave the data without stars, as typed
    (``--liked-threshold 4``), or ``""``."""
    from cinerec.data.filters import Filters

    if filters is None:
        return ""
    return Filters(implicit=filters.implicit, liked_threshold=filters.liked_threshold).as_flags()


def make_protocol(name: str | None, options: list[str] | None, model: "Recommender",
                  filters: Any = None) -> tuple[str, dict[str, Any]]:
    """The protocol's name and options, checked against each other and against ``model``.

    Returns the name (``--protocol`` or the model's default) and the parsed
    ``--protocol-option`` values; the protocol itself is built by :func:`protocol_for`
    once the data is known.
    """
    from cinerec.config import parse_set_options
    from cinerec.errors import ConfigError
    from cinerec.evaluation.protocols import get_protocol

    for pair in options or []:
        key, sep, _ = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--protocol-option {pair!r}: expected key=value")
    given = name
    name = name or default_protocol(model)
    values = parse_set_options(options, "--protocol-option")
    try:
        protocol = get_protocol(name, **values)
    except ConfigError as e:  # an option of a protocol the user never named: say whose it was
        if given is not None or "unknown option" not in str(e):
            raise
        raise ConfigError(str(e).replace(f"protocol {name}: ", f"protocol {name} (the one {model.name} is measured "
                                         "by when --protocol is not given): ", 1)) from None
    protocol.starless = starless(filters)
    protocol.check(model)
    return name, values


def protocol_for(name: str, options: dict[str, Any], dataset: "Dataset", data: str,
                 default_for: "Recommender | None" = None) -> "EvaluationProtocol":
    """The protocol to run on ``dataset`` (official folds come with the dataset itself).

    Data the protocol cannot measure (stars on implicit data, folds a filter dropped) is
    refused here, before anything is said about it; when ``--protocol`` was not given
    (``default_for``: the model whose default it is), the refusal says so.
    """
    from cinerec.data.history import is_implicit
    from cinerec.errors import DataError
    from cinerec.data.dataset import data_label
    from cinerec.evaluation.protocols import get_protocol, implicit_words

    protocol = get_protocol(name, **options)
    if default_for is not None and protocol.needs_ratings and is_implicit(dataset):
        way = ("give a ranking protocol: --protocol loo-sampled (it then trains for ranking)"
               if default_for.ranking_settings else "use a ranking model such as ease or als")
        raise DataError(f"{data_label(dataset)} holds plain interactions{implicit_words(dataset)}, and {name}, the protocol "
                        f"{default_for.name} is measured by when --protocol is not given, measures predicted stars; {way}")
    protocol.check_data(dataset)
    return protocol


# -- the data: a person's own log, and the filters ---------------------------------------------
#
# Shared by data info, evaluate, train and quickstart. The filters apply right after the
# data is read, in the one order of cinerec.data.filters (years, liked_threshold, implicit,
# top_users, top_movies, kcore), and run.json records each one with the counts it left.

Columns = Annotated[str | None, typer.Option(
    "--columns", metavar="ROLE=NAME,...", show_default=False,
    help="A ratings log's column names, where they are not the usual ones: roles user, item, rating, time; "
         "title, genres, year for the --catalog file, or without one the log's own (e.g. "
         "user=uid,item=sku,time=when,title=name).")]
CatalogFile = Annotated[Path | None, typer.Option(
    "--catalog", metavar="FILE", show_default=False, callback=home,
    help="A ratings log's movie file: id, title, optional genres (|-separated, or , or ; where no | is) and year "
         "[default: the log's own title, genres and year columns where it has a title column, else movies shown by "
         "their ids].")]
RatingScale = Annotated[str | None, typer.Option(
    "--rating-scale", metavar="LOW,HIGH", show_default=False,
    help="A ratings log's lowest and highest possible rating, e.g. 1,10 [default: the lowest and highest the log "
         "holds]; liked starts halfway up it.")]
MinYear = Annotated[int | None, typer.Option(
    "--min-year", metavar="YEAR", show_default=False,
    help="Keep movies released in YEAR or later (the year from the title; unknown years are dropped); 1 to 9999.")]
MaxYear = Annotated[int | None, typer.Option(
    "--max-year", metavar="YEAR", show_default=False, help="Keep movies released in YEAR or earlier; 1 to 9999.")]
TopUsers = Annotated[int | None, typer.Option(
    "--top-users", metavar="N", show_default=False, help="Keep the N users with the most ratings (N at least 1).")]
TopMovies = Annotated[int | None, typer.Option(
    "--top-movies", metavar="N", show_default=False, help="Keep the N movies with the most ratings (N at least 1).")]
KCore = Annotated[str | None, typer.Option(
    "--kcore", metavar="U[,I]", show_default=False,
    help="Repeatedly drop users with fewer than U ratings and movies with fewer than I (default I = U; each at "
         "least 1).")]
Implicit = Annotated[bool, typer.Option("--implicit", help="Read every rating as a plain positive (1.0).")]
def _stars(text: str | float) -> float:
    """``--liked-threshold``'s number, a number too large to hold named as typed (1e400
    was said back as ``inf``)."""
    import math

    if not isinstance(text, str):  # (a default, or the value given again)
        return float(text)
    try:
        value = float(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a valid float.") from None
    if math.isinf(value) and "inf" not in text.lower():
        raise typer.BadParameter(f"{text!r} is too large to be a number of stars.")
    return value


LikedThreshold = Annotated[float | None, typer.Option(
    "--liked-threshold", metavar="STARS", show_default=False, parser=_stars,
    help="Keep ratings of at least STARS, as plain positives (the data becomes implicit).")]


#: The filter flags, in the order ``--help`` lists them: (parameter, annotation, default).
FILTER_FLAGS: tuple[tuple[str, Any, Any], ...] = (
    ("min_year", MinYear, None), ("max_year", MaxYear, None), ("top_users", TopUsers, None),
    ("top_movies", TopMovies, None), ("kcore", KCore, None), ("implicit", Implicit, False),
    ("liked_threshold", LikedThreshold, None),
)


def with_filters(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command the filter flags, in place of its ``filters`` parameter.

    The command declares ``filters: Any = None`` where the flags belong in its
    ``--help``; Typer sees the seven flags there instead, and the command receives them
    as one checked :class:`~cinerec.data.filters.Filters` (:func:`make_filters`), so a
    bad value is refused before any data is read.
    """
    signature = inspect.signature(command)
    names = [name for name, _, _ in FILTER_FLAGS]
    params: list[inspect.Parameter] = []
    for param in signature.parameters.values():
        if param.name == "filters":
            params += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=hint)
                       for name, hint, default in FILTER_FLAGS]
        else:
            params.append(param.replace(kind=inspect.Parameter.KEYWORD_ONLY))

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in names}
        return command(**kwargs, filters=make_filters(**{k: v for k, v in values.items() if v is not None}))

    wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params if p.annotation is not inspect.Parameter.empty}
    return wrapper


def make_filters(*, min_year: int | None = None, max_year: int | None = None, top_users: int | None = None,
                 top_movies: int | None = None, kcore: str | None = None, implicit: bool = False,
                 liked_threshold: float | None = None) -> Any:
    """The :class:`~cinerec.data.filters.Filters` the flags name, checked before any data is read."""
    from cinerec.data.filters import COMMAND_LINE, Filters

    values = {"min_year": min_year, "max_year": max_year, "top_users": top_users, "top_movies": top_movies,
              "kcore": kcore, "implicit": implicit, "liked_threshold": liked_threshold}
    return Filters.from_mapping({k: v for k, v in values.items() if v is not None}, where=COMMAND_LINE,
                                flags=True)


def data_source(data: str | None, columns: str | None, catalog: Path | None, flag: str | None = "--data",
                rating_scale: str | None = None) -> dict[str, Any]:
    """What ``--data`` (``flag``; None for an argument, named by its value alone), ``--columns``,
    ``--catalog`` and ``--rating-scale`` name, checked before any data is read. ``data`` None: not given. A
    catalogue role in ``--columns`` names a column of the ``--catalog`` file, or without
    one the log's own (its reader checks it)."""
    from cinerec.data.logs import check_catalog, parse_columns, parse_rating_scale
    from cinerec.data.movielens import check_source
    from cinerec.errors import ConfigError, NotFoundError

    if data is not None and not data.strip():  # an unset "$DATA": it read the current folder
        raise ConfigError(f"{flag or 'SOURCE'}: empty; name a release, a folder, a zip or a ratings log")
    if data:
        try:
            check_source(data)
        except NotFoundError as e:  # the flag named: "--data /no/such: no such file or folder, ..."
            if flag is None:
                raise
            raise NotFoundError(f"{flag} {e}" if str(e).startswith(data) else f"{flag}: {e}") from None
    if catalog is not None:
        check_catalog(catalog)
    roles = parse_columns(columns) or None
    scale = parse_rating_scale(rating_scale, "--rating-scale")
    return {"source": data or "", "columns": roles, "catalog": None if catalog is None else str(catalog),
            **({"rating_scale": list(scale)} if scale is not None else {})}


def load_data(source: dict[str, Any], filters: Any, *, progress: bool = True
              ) -> tuple["Dataset", dict[str, Any]]:
    """Read the data and apply the filters.

    Returns:
        The filtered dataset and its record for ``run.json`` and ``--json``
        (:func:`cinerec.runs.data_record`).
    """
    from cinerec import progress as bars
    from cinerec.commands.show import say
    from cinerec.data import apply_filters, load
    from cinerec.data.dataset import reading_notes
    from cinerec.runs import data_record

    dataset = load(source["source"], progress=progress, columns=source["columns"], catalog=source["catalog"],
                   rating_scale=source.get("rating_scale"))
    dataset, record = apply_filters(dataset, filters)
    for line in reading_notes(dataset):  # (said unless --quiet: the command silences the bars then)
        say(f"note: {line}", bars.is_silenced())
    return dataset, data_record(source, dataset, filters, record)


def say_filters(record: dict[str, Any], quiet: bool) -> None:
    """Each filter step of :func:`load_data`'s record with its counts, as ``quickstart`` and
    ``data info`` say them; said just before the ``data:`` line, which counts what is left
    (and so after any mistake found in the flags before it)."""
    from cinerec.commands.show import say
    from cinerec.data.filters import step_said

    for step in record.get("transforms", []):
        say(step_said(step), quiet)


def unused_patience(model: Any, prepared: Any, held: list[str]) -> list[str]:
    """The note for a ``patience`` given (``--set``, ``--config``) to a fit with no
    validation ratings: early stopping has nothing to go by, so every epoch is trained."""
    patience = getattr(model.config, "patience", 0)
    if "patience" not in held or not patience or prepared.valid is not None:
        return []
    default = prepared.protocol.defaults.get("valid")
    way = " (--protocol-option valid=true holds each user's second-latest rating out for it)" if default is False \
        else f" (--protocol-option valid={default} holds that share of the ratings out for it)" if default else ""
    return [f"patience = {patience} stopped nothing: {prepared.protocol.name} held out no validation ratings to stop "
            f"early on, so all {model.config.epochs} epochs were trained{way}"]


def popularity_fields(prepared: Any, result: Any, floor: Any, notes: list[str]) -> dict[str, Any]:
    """``--json``'s ``popularity`` (the floor's figures) and ``below_popularity`` (what is
    said of the model against them) under a ranking protocol, for popularity too (its own
    figures, nothing below), so that every model's answer has the same keys."""
    if prepared.protocol.needs_ratings:
        return {}
    return {"popularity": (floor if floor is not None else result).metrics, "below_popularity": notes}


def popularity_floor(prepared: Any, result: Any) -> tuple[list[str], Any]:
    """Popularity on the same prepared split, and a line for ``result`` if it falls below it.

    Returns ``([], None)`` under a rating protocol (popularity predicts no stars) and for
    popularity itself; the lines come from
    :func:`cinerec.evaluation.protocols.below_popularity`, the one rule every leaderboard uses.
    """
    from cinerec.evaluation.protocols import below_popularity
    from cinerec.models import create

    if prepared.protocol.needs_ratings or result.model == "popularity":
        return [], None
    floor = prepared.evaluate(create("popularity"))
    return below_popularity([result, floor]), floor


# -- tuning: --tune TRIALS on evaluate, train and run -----------------------------------------

Tune = Annotated[int | None, typer.Option(
    "--tune", metavar="TRIALS", show_default=False,
    help="Search the model's settings first (Optuna TPE, TRIALS trials, 1 to 100,000) on a validation carve-out of the "
         "training part; the test part is never used. Settings given with --set or --config (evaluate, "
         "train) are kept as they are and the search covers the others; in a study (run) each model's "
         "table is the first trial (two tables of one model keep the settings that tell them apart) and "
         "[tune] models picks the models searched. The chosen settings are "
         "printed (and in --json), and kept in the run folder of train and run.")]


def check_tune(trials: int | None, model: "Recommender | None" = None, hold: Collection[str] = (),
               options: Mapping[str, Any] | None = None) -> None:
    """Refuse, in one line and before any data is read: a tuning budget below one trial
    or past :data:`cinerec.tuning.MAX_TRIALS`;
    a ``model`` with nothing to search once the settings ``hold`` (given by ``--set`` and
    ``--config``) are taken out; ``fold=all``, whose folds' training parts hold one
    another's test ratings (:func:`cinerec.tuning.check_protocol`)."""
    from cinerec.errors import ConfigError
    from cinerec.tuning import check_protocol

    if trials is None:
        return
    if trials < 1:
        raise ConfigError(f"--tune {trials}: a tuning budget must be at least 1 trial")
    from cinerec.tuning import MAX_TRIALS

    if trials > MAX_TRIALS:
        raise ConfigError(f"--tune {trials}: a tuning budget is at most {MAX_TRIALS:,} trials")
    if options is not None:
        check_protocol(options.get("fold"), f"--tune {trials}")
    if model is not None:
        space = set(model.search_space)
        if not space:
            raise ConfigError(f"--tune {trials}: {model.name} declares no search space: there is nothing to tune")
        if not space - set(hold):
            raise ConfigError(f"--tune {trials}: --set/--config give every setting {model.name} searches "
                              f"({', '.join(sorted(space))}): there is nothing left to tune")


def given_settings(name: str, config: Path | None, sets: list[str] | None) -> list[str]:
    """The settings ``--config`` and ``--set`` give model ``name``: ``--tune`` keeps them as
    they are and searches the others."""
    from cinerec.config import parse_set_options
    from cinerec.models.base import model_class

    file_values = read_config_file(config, model_class(name)) if config is not None else {}
    return sorted({**file_values, **parse_set_options(sets)})
