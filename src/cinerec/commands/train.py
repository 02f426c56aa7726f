"""``cinerec train``: fit one model, measure it under a protocol, keep it in a run folder.

    cinerec train --data ml-100k --model neumf --out runs/neumf
    cinerec train --data ./ml-100k --model biasedmf --protocol ratings-fold --set epochs=40 --out runs/mf
    cinerec train --data ml-100k --model neumf --config neumf.toml --resume --out runs/neumf
    cinerec train --data my-log.csv --catalog movies.csv --kcore 5 --model ease --out runs/mine

The TOML file holds the model's settings at top level (``epochs = 30``); ``--set``
values override it. Neural models write checkpoints to ``RUN_DIR/checkpoints``;
``--resume`` continues a killed run from its last checkpoint to the same result.
Under ``torchrun`` every process trains its share and only the first writes the run.
"""

import contextlib
import dataclasses
import os
import typing
from pathlib import Path
from typing import Annotated, Any, Callable, Iterator, Sequence

import typer

from cinerec.commands import flags
from cinerec.io import TRAIN_MARK, contents
from cinerec.processes import distributed_context

__all__ = ["train"]


@flags.with_filters
def train(
    data: flags.Data,
    model: flags.Model,
    out: Annotated[Path, typer.Option("--out", metavar="DIR", show_default=False, callback=flags.home,
                                      help="The run folder to write.")],
    protocol: flags.Protocol = None,
    protocol_option: flags.ProtocolOption = None,
    config: flags.ConfigFile = None,
    set_: flags.Set = None,
    seed: flags.Seed = 0,
    columns: flags.Columns = None,
    catalog: flags.CatalogFile = None,
    rating_scale: flags.RatingScale = None,
    filters: typing.Any = None,  # the filter flags (flags.with_filters)
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue from DIR/checkpoints/checkpoint-last.pt to the same result (with none there, "
                         "train from the first epoch, and say so).")] = False,
    tune: flags.Tune = None,
    json: flags.Json = False,
    quiet: flags.Quiet = False,
) -> None:
    """Train a model, evaluate it and keep it in a run folder.

    Neural models write checkpoints to DIR/checkpoints; --resume continues a killed run
    from its last checkpoint to the same result, a finished one with more epochs, and one
    stopped early with a larger patience.
    """
    from cinerec.io import claimed

    out = Path(os.path.abspath(out))  # "--out ." names the folder it is
    # One command writes a run folder at a time (torchrun's ranks are one command: rank 0 claims it).
    with claimed(out) if distributed_context().is_main else contextlib.nullcontext():
        _train(data, model, out, protocol, protocol_option, config, set_, seed, columns, catalog, rating_scale,
               filters, resume, tune, json, quiet)


def _train(data: Any, model: Any, out: Path, protocol: Any, protocol_option: Any, config: Any, set_: Any, seed: int,
           columns: Any, catalog: Any, rating_scale: Any, filters: Any, resume: bool, tune: Any, json: bool,
           quiet: bool) -> None:
    from cinerec import progress
    from cinerec.commands.show import print_json, print_leaderboard, say
    from cinerec.data.dataset import dataset_sizes, reading_notes, synthetic_notes, synthetic_words
    from cinerec.evaluation.protocols import below_mean, figure_notes
    from cinerec.runs import finish_run, save_dataset, save_model
    from cinerec.models.base import with_features
    from cinerec.models.neural import NeuralRecommender
    from cinerec.training import CHECKPOINT_LAST, sweep_checkpoint_temps

    # Every name and value is checked before the (slow) data load.
    recommender = flags.make_model(model, config, set_, seed, protocol=protocol, filters=filters)
    protocol_name, options = flags.make_protocol(protocol, protocol_option, recommender, filters)
    source = flags.data_source(data, columns, catalog, rating_scale=rating_scale)
    held = flags.given_settings(model, config, set_)
    flags.check_tune(tune, recommender, held, options)
    asked = {"data": data, "filters": filters.to_dict() if filters is not None else {}, "protocol": protocol_name,
             "options": _protocol_options(protocol_name, options), **_fold(protocol_name, options), "seed": seed,
             "catalog": None if catalog is None else str(Path(catalog).resolve()), "columns": source["columns"],
             "rating_scale": source.get("rating_scale")}
    earlier = _earlier_tuning(out, recommender.name) if resume else None
    # Resumed, a run goes on with the settings it trained with (those given here win): its
    # search's choice when it searched, else, asked to search, its checkpoint's (a run that
    # never searched, or one killed before its record). A search run again would choose
    # for other epochs, and the checkpoint refuses settings it was not trained with.
    kept = earlier["settings"] if earlier is not None else \
        _checkpoint_settings(out, recommender) if resume and tune is not None else None
    if kept is not None:
        from cinerec.commands.evaluate import _with
        from cinerec.errors import ConfigError

        # A setting given here that the checkpoints were not trained with: refused now, not
        # after the data is read (the checkpoint's own check), and not said to be kept.
        clash = [k for k in kept if k in held and getattr(recommender.config, k, kept[k]) != kept[k]]
        if clash and any((out / "checkpoints").rglob(CHECKPOINT_LAST)):
            k = clash[0]
            chose = "its search chose it" if earlier is not None else "its checkpoint"
            raise ConfigError(f"--resume: {k} = {getattr(recommender.config, k)!r} is given here, but {out} trained "
                              f"with {k} = {kept[k]!r} ({chose}), which a resume keeps: leave {k} out, or train "
                              "afresh in another folder")
        recommender = _with(recommender, {k: v for k, v in kept.items() if k not in held})
        if tune is not None:
            whose, search = ("the run's search chose", "the search is not run again") if earlier is not None \
                else ("the run trained with", "the search is not run")
            say(f"note: --resume goes on with the settings {whose} ({kept}); {search}",
                quiet or not distributed_context().is_main)
            tune = None
    later: list[Callable[[], None]] = []  # (the killed run's files dropped once the input is found good)
    # (ratings-fold with fold = all keeps each fold's under checkpoints/FOLD/; _check_out
    # leaves them to `later`, so they are read once, before it)
    checkpointed = any((out / "checkpoints").rglob(CHECKPOINT_LAST))
    # A stopped run's checkpoints, which a start without --resume drops: said as they go.
    stopped = not resume and not (out / "run.json").exists() and checkpointed
    made = _check_out(out, resume, recommender, tune, asked, earlier, later)
    main = distributed_context().is_main
    started: list[str] = []  # what became of the folder's checkpoints: said, and in --json's notes

    def start_note(line: str) -> None:
        started.append(line)
        say(f"note: {line}", quiet or not main)

    if stopped and later:
        later.append(lambda: start_note(f"{out} held the checkpoints of a run that was stopped; started again without "
                                        "--resume, they are dropped (--resume goes on from them)"))
    resumed = resume and checkpointed
    if resume and not resumed:  # a mistyped --out retrains everything
        start_note(f"{out} holds no checkpoint to resume from; training from the first epoch")
    with progress.silenced(quiet or not main), _undone_on_failure(out, made, keep_new=True):
        dataset, record = flags.load_data(source, filters)  # a bar only while downloading, on a terminal
        prepared_protocol = flags.protocol_for(protocol_name, options, dataset, data,
                                               default_for=None if protocol else recommender)
        flags.say_filters(record, quiet or not main)
        say(f"data: {data}{synthetic_words(dataset)}: "
            f"{dataset_sizes(dataset)}; "
            f"{prepared_protocol.describe(dataset)}", quiet or not main)
        prepared = prepared_protocol.prepare(dataset, seed=seed)
        for step in later:
            step()
        if "fold" in asked:  # the fold trained on, known now (data without official folds is split at random)
            asked.update(fold="all" if prepared.folds else str(prepared.fold), fold_given=True)
            if main and not resumed:  # (a resume's mark keeps the killed run's: its checkpoint may refuse this one)
                _mark(out, _with_fold(_marked(out), asked["fold"]))
        tuned = None
        if tune is not None:  # the winner is trained afresh below, with checkpoints
            from cinerec.commands.evaluate import _tune, _with

            # Said on stderr while a --json answer is made; otherwise printed with the table.
            # A neural winner is trained below, keeping checkpoints to resume from (the search
            # leaves it unfitted: it was trained twice); any other is the search's own, fitted
            # on this split already.
            neural = isinstance(recommender, NeuralRecommender)
            tuned = _tune(recommender, dataset, prepared, tune, seed, quiet or not main or not json, held,
                          fit=not neural)
            recommender = _with(recommender, tuned.settings) if neural else tuned.model
            if main:  # kept beside the checkpoints: a killed run resumed goes on with it, and records it
                _mark(out, {**asked, "model": recommender.name, "tuning": tuned.to_dict()})
        searched = tuned is not None and recommender is tuned.model  # (fitted by the search, features and all)
        if not searched:  # side features (two-tower, mlp-rating features = true) come from the data
            recommender = with_features(recommender, dataset)
        if isinstance(recommender, NeuralRecommender):
            recommender.checkpoint_dir = out / "checkpoints"
            recommender.resume = resume
            if main:  # (the folder claimed: what a temporary file there holds is a killed run's, of any age)
                sweep_checkpoint_temps(out / "checkpoints", older_than=0)
        result = prepared.evaluate(recommender)
        # What a resume trained: said now, and in --json's notes (-q keeps it off stderr).
        went_on = [_resumed_words(*each) for each in getattr(recommender, "resumed_from", ())]
        for line in went_on:
            say(f"note: {line}", quiet or not main)
        if searched and tuned is not None:  # its fit's time, the search's
            result = dataclasses.replace(result, seconds_fit=tuned.seconds_fit)
        elif tuned is not None:  # (the winner trained here: its time, not none, in the search's record)
            tuned = dataclasses.replace(tuned, seconds_fit=result.seconds_fit)
        notes, floor = flags.popularity_floor(prepared, result)
    if not main:
        return
    from cinerec.tuning import Tuned

    # Resumed, the run's earlier search chose its settings, and says so as it did.
    shown = tuned if tuned is not None or earlier is None else Tuned.from_dict(earlier, recommender)
    history = recommender.history
    meta = {
        "command": "train", "best_model": recommender.name, "data": data, "protocol": protocol_name,
        "protocol_options": result.options, "seed": seed, "config": {recommender.name: recommender.config.to_dict()},
        "dataset": record,
        # (under a ranking protocol, where popularity is measured beside it, as --json has it)
        **({} if prepared.protocol.needs_ratings else {"below_popularity": notes}),
        # Results depend on how many processes trained (each takes its share of a batch).
        "processes": distributed_context().world,
        # (a resumed run's winner: trained here, so its fit's time is this run's)
        **({"tuning": tuned.to_dict()} if tuned else
           {"tuning": {**earlier, "seconds_fit": result.seconds_fit}} if earlier is not None else {}),
        **({"training": _training(recommender)} if history and "epoch" in history[0] else {}),
    }
    metrics = {recommender.name: {**result.metrics, "n_users": result.n_users, "seconds_fit": result.seconds_fit,
                                  "seconds_eval": result.seconds_eval}}
    # seconds_fit is this process's part; after a resume, the earlier epochs took time too.
    epochs_s = float(sum(h["seconds"] for h in history)) if resume and history and "seconds" in history[0] else None
    if epochs_s is not None:
        metrics[recommender.name]["seconds_epochs"] = epochs_s
    measured = figure_notes(prepared, recommender) + below_mean(prepared, result)  # what the figures measure
    from cinerec.io import interrupts_deferred, note_finished

    # A finished run resumed is saved whole once its save begins (Ctrl-C and SIGTERM wait for
    # it): cut short, the run it replaced was gone and the new one unfinished.
    replacing = (out / "run.json").exists()
    with interrupts_deferred() if replacing else contextlib.nullcontext():
        with _undone_on_failure(out, made):  # run.json comes last: until then nothing counts as a run
            # A resumed finished run stops being one first, so a save cut short (killed) never
            # leaves its old figures beside a new model: it is then an unfinished run, to resume again.
            (out / "run.json").unlink(missing_ok=True)
            save_dataset(out, dataset)
            save_model(out, recommender)
            finish_run(out, meta=meta, metrics=metrics,
                       report=_report(data + synthetic_words(dataset), recommender.name, result, history, notes,
                                      epochs_s, shown, reading_notes(dataset) + measured + synthetic_notes(dataset),
                                      dataset,
                                      record.get("transforms", [])))
        if replacing:
            note_finished(f"the run {out}", out / "run.json")
    said = measured + synthetic_notes(dataset)
    said += flags.unused_patience(recommender, prepared, held) if tuned is None else []
    if json:
        extra = {**flags.popularity_fields(prepared, result, floor, notes),
                 "notes": started + went_on + reading_notes(dataset) + said}  # (as evaluate's)
        print_json({"data": data, "synthetic": bool(dataset.info.get("synthetic")), **result.to_dict(), **extra,
                    "run": str(out), "resumed": resumed, "dataset": record,
                    "config": recommender.config.to_dict(),  # the settings it ran with, as run.json keeps them
                    "tuning": meta.get("tuning")})
        return
    print_leaderboard([result])
    if shown is not None:  # a result, not chatter: --quiet keeps it
        from cinerec.commands.evaluate import tuned_line

        print(tuned_line(shown, held if tuned is not None else ()))
    for line in notes + said:
        print(f"note: {line}")
    say(f"run saved to {out}", quiet)


def _earlier_tuning(out: Path, model: str) -> dict[str, Any] | None:
    """The search record of the run of ``model`` in ``out``, when it has one with
    settings: a finished run's (``run.json``'s ``tuning``), else that of a run killed
    after its search (kept in its :data:`_MARK`); else ``None``."""
    import json

    try:
        meta = json.loads((out / "run.json").read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("models") != [model]:  # another model's run: the resume refuses it
            return None
    except FileNotFoundError:
        meta = _marked(out)
        if meta.get("model") != model:  # (as a killed run's)
            return None
    except (OSError, ValueError):
        return None
    tuning = meta.get("tuning") if isinstance(meta, dict) else None
    return tuning if isinstance(tuning, dict) and isinstance(tuning.get("settings"), dict) else None


def _checkpoint_settings(out: Path, model: Any) -> dict[str, Any] | None:
    """The searched settings (those of ``model``'s search space) that the checkpoint of
    the ``train`` run in ``out`` was trained with; ``None`` where there is none (no
    checkpoint, one that cannot be read: the resume says why)."""
    from cinerec.errors import CinerecError
    from cinerec.training import CHECKPOINT_LAST, load_checkpoint

    if not (out / "checkpoints").is_dir():
        return None
    found = sorted((out / "checkpoints").rglob(CHECKPOINT_LAST))
    if not found:
        return None
    try:
        import torch

        ck = load_checkpoint(found[0], torch.device("cpu"))
        saved, then = ck.get("config"), ck.get("trained")
    except (CinerecError, AttributeError):
        return None
    # Another model's checkpoint: its settings are none of this model's (the resume refuses it).
    if not isinstance(saved, dict) or (isinstance(then, dict) and then.get("model") != model.name):
        return None
    return {k: saved[k] for k in model.search_space if k in saved}


def _resumed_words(path: Path, done: int, start: int, n_epochs: int, then: int | None = None) -> str:
    """What a resume did: the epochs its checkpoint had trained, and those trained now.

    ``then`` is the epochs the checkpoint's own run was asked for: where it differs from
    ``n_epochs``, the count said is of those (a run that finished them and is given more
    is said to have finished them, not to be part way through the new number).
    """
    def epochs(n: int) -> str:
        return f"{n} epoch{'s' if n != 1 else ''}"

    if then is None or then == n_epochs:
        had = f"resumed from {path}, which had trained {done} of {epochs(n_epochs)}"
    elif done >= then:
        had = f"resumed from {path}, which had finished the {epochs(then)} its run was given"
    else:  # (stopped early, or killed, in a run given another number of epochs)
        had = f"resumed from {path}, which had trained {done} of the {epochs(then)} its run was given"
    if start >= n_epochs:
        if done < n_epochs:
            why = "it had stopped early"
        elif then is None or then == n_epochs:
            why = "all of them"
        else:  # (the run now asks for no more epochs than the checkpoint had trained)
            why = f"{'as many as' if done == n_epochs else 'more than'} the {epochs(n_epochs)} asked now"
        return f"{had} ({why}): no epoch trained now, its weights are measured as they were"
    return f"{had}; trained epoch{'s' if n_epochs - start > 1 else ''} " + \
        (f"{start + 1} to {n_epochs}" if n_epochs - start > 1 else f"{n_epochs}") + " now"


def _check_out(out: Path, resume: bool, model: Any, tune: int | None = None,
               asked: dict[str, Any] | None = None, earlier: dict[str, Any] | None = None,
               later: list[Callable[[], None]] | None = None) -> bool:
    """Check ``--out`` before any data is read and create it; whether it was created.

    A killed run's files that a fresh start (or a resume) drops, and its new mark, are
    left to ``later`` when given: the caller runs it once its input is found good.

    It may be new, empty, a killed ``train`` run's folder (its :data:`_MARK` says so; or,
    from before the mark, holding only ``checkpoints/``) to resume or start again, or with
    ``--resume`` a finished ``train`` run of the same neural model with its checkpoints
    (which then checks the data and settings against what it trained on); anything else
    is refused, so a run never mixes with other files and nobody's files are removed.
    """
    import json

    from cinerec.errors import CinerecError, ConfigError
    from cinerec.models.neural import NeuralRecommender
    from cinerec.runs import run_words

    neural = isinstance(model, NeuralRecommender)
    # Under torchrun every rank checks alike, and rank 0 alone makes, marks or cleans the
    # folder (another machine's rank would be left an empty run folder of its own).
    writes = distributed_context().is_main
    # What the folder's mark keeps of this run (read when it is killed and resumed).
    record = {**(asked or {}), "model": model.name, **({"tuning": earlier} if earlier is not None else {})}
    if resume and not neural:
        raise ConfigError(f"--resume: {model.name} is not trained in epochs and writes no checkpoints, so there is "
                          "nothing to resume; drop --resume")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: is a file; --out names the run folder to write")
    if (out / "checkpoints").exists() and not (out / "checkpoints").is_dir():
        raise ConfigError(f"--out {out}: holds a file named 'checkpoints', where training keeps its checkpoints; "
                          "choose a new or empty folder")
    if out.is_dir():
        # (a mark a kill left half put in place is ours; a file browser's .DS_Store no one's)
        names = {p.name for p in contents(out)} - {_MARK_NEW}
        if "run.json" in names:  # a finished run: resumed (it then ends at once) or refused
            try:
                meta = json.loads((out / "run.json").read_text(encoding="utf-8"))
            except (OSError, ValueError) as e:
                raise ConfigError(f"--out {out}: its run.json cannot be read ({e}); choose another folder") from None
            if not isinstance(meta, dict):
                raise ConfigError(f"--out {out}: its run.json holds no run's record; choose another folder")
            made_by = f"{meta.get('command', '?')} {meta.get('best_model', '?')}"
            if not resume:  # --resume is offered only where it would be taken
                way = " or pass --resume to train it further" if neural and made_by == f"train {model.name}" else ""
                raise ConfigError(f"--out {out}: holds a finished run, {run_words(meta)}; choose another folder{way}")
            if made_by != f"train {model.name}":
                raise ConfigError(f"--out {out}: holds a finished '{made_by}' run, and --resume continues only a "
                                  f"'train {model.name}' run; choose another folder")
            if "checkpoints" not in names:
                raise ConfigError(f"--out {out}: the finished run has no checkpoints/ to resume from; "
                                  "choose another folder")
            want = model.config.to_dict()
            tuning = meta.get("tuning")
            if tune is not None and isinstance(tuning, dict) and tuning.get("n_trials") == tune \
                    and isinstance(tuning.get("settings"), dict):
                # The same seeded search chooses the same settings: compare with what it chose.
                from cinerec.commands.evaluate import _with

                try:
                    want = _with(model, tuning["settings"]).config.to_dict()
                except CinerecError:  # a hand-edited record: let the resumed run sort it out
                    pass
            recorded = (meta.get("config") or {}).get(model.name)
            # The same data, filters, protocol and seed too: with other ones the resume goes on to
            # the checkpoint, which refuses data it was not trained on, naming what differs.
            read = meta.get("dataset") or {}
            ran = {"data": meta.get("data"), "filters": read.get("filters", {}), "protocol": meta.get("protocol"),
                   "seed": meta.get("seed"),
                   # (a record from before these were kept has none: nothing to compare)
                   **({"catalog": read["catalog_path"]} if "catalog_path" in read else {}),
                   **({"columns": read["columns"]} if "columns" in read else {}),
                   **({"rating_scale": read["rating_scale_given"]} if "rating_scale_given" in read else {})}
            fold = (meta.get("protocol_options") or {}).get("fold") if isinstance(meta.get("protocol_options"), dict) \
                else None
            if _fold_named(fold):
                ran["fold"] = fold
            record = _with_fold(record, fold)  # (the fold it trained on, kept should this resume be killed)
            _same_filters_and_seed(out, ran, asked)
            if asked is not None and ran["protocol"] and ran["protocol"] != asked["protocol"]:
                # Another protocol splits the data otherwise: the checkpoint would refuse it
                # by counts of ratings, without saying why.
                raise ConfigError(f"--resume: the run in {out} was trained under protocol {ran['protocol']}, and "
                                  f"{asked['protocol']} is asked now; give --protocol {ran['protocol']} to train it "
                                  "further")
            given = meta.get("protocol_options")
            if asked is not None and isinstance(given, dict):  # (as a killed run's: ks, the figures named, aside;
                # the fold, which the protocol's own options leave out, is told by the data's counts)
                ran["options"] = {k: v for k, v in given.items() if k not in ("ks", "fold")}
                _same_options(f"the run in {out} was trained", ran, asked, "to train it further")
            same_run = asked is None or all(ran.get(key, value) == value for key, value in asked.items())
            training = meta["training"] if isinstance(meta.get("training"), dict) else {}
            was = recorded.get("patience") if isinstance(recorded, dict) else None
            if same_run and training.get("stopped_by") == "patience" and isinstance(was, int) \
                    and 0 < (want.get("patience") or 0) <= was:
                # Resumed, it would stop again at once and only write the same run again.
                raise ConfigError(f"--out {out}: the run stopped early after epoch {training.get('epochs')} (patience = "
                                  f"{was}: that many epochs without a better validation figure), and patience = "
                                  f"{want.get('patience')} would stop it again at once; resume with a larger patience "
                                  "(--set patience=N, or 0 never to stop early) to train it further")
            # A setting left unset is recorded as the fit settled it (liked_threshold): the same.
            changed = None
            if isinstance(recorded, dict):
                settled = {k: recorded.get(k) if v is None else v for k, v in want.items()}
                changed = {k for k in {*settled, *recorded}
                           if k not in settled or k not in recorded or settled[k] != recorded[k]}
            if same_run and changed == set():
                # Resumed, it would end at once and only write the same run again.
                raise ConfigError(f"--out {out}: the run already finished with these settings, so there is nothing "
                                  "to resume; ask for more epochs (--set epochs=N) to train it further")
            if same_run and changed == {"patience"} and training.get("stopped_by") != "patience":
                # Only patience changed on a run that trained all its epochs: it would end at
                # once too, and write the same run again, recorded with the new patience.
                raise ConfigError(f"--out {out}: the run trained all its {training.get('epochs')} epochs without "
                                  f"stopping early, so patience = {want.get('patience')} changes nothing; ask for "
                                  "more epochs (--set epochs=N) to train it further")
            if writes:
                _can_write_in(out)
            if writes and later is not None:  # once the data is read and split, as a killed run's below
                later.append(lambda: _mark(out, record))
            elif writes:
                _mark(out, record)
            return False
        ours = _MARK in names or names <= {"checkpoints"}
        if not ours:
            first = sorted(names - {_MARK})[0]
            raise ConfigError(f"--out {out}: holds {first!r} and no run that train started there; choose a new or "
                              "empty folder")
        # A killed run leaves its checkpoints, and a run killed while saving some of its
        # own files too. Those half-saved files are no run (no run.json): they go, so a run
        # resumed or started again never mixes with them. A run started again (no --resume)
        # drops the old checkpoints too: they are another run's.
        import shutil

        then = _marked(out) if resume else {}
        if resume:  # the mark keeps the fold the killed run trained on (its checkpoint may refuse the one asked)
            record = _with_fold(record, then["fold"] if "fold" in then and then.get("fold_given", True) else None)
        if then.get("model") not in (None, model.name):  # (refused before any data is read or searched)
            raise ConfigError(f"--resume: the run killed in {out} trained {then['model']}, and {model.name} is asked "
                              f"now; give --model {then['model']} to go on with it, or drop --resume to start again")
        if asked is not None and then.get("protocol") not in (None, asked["protocol"]):
            raise ConfigError(f"--resume: the run killed in {out} trained under protocol {then['protocol']}, and "
                              f"{asked['protocol']} is asked now; give --protocol {then['protocol']} to go on with "
                              "it, or drop --resume to start again")
        if asked is not None and "options" in then:  # (a mark of old has none)
            _same_options(f"the run killed in {out} trained", then, asked, "to go on with it, or drop --resume to "
                          "start again")
        _same_filters_and_seed(out, then, asked)
        if writes:
            _can_write_in(out)

            def clear() -> None:
                for name in sorted(names & (_TRAIN_OWN - ({"checkpoints"} if resume else set()))):
                    p = out / name
                    shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
                _mark(out, record)

            if later is None:
                clear()
            else:  # once the data is read and split: a command refused for its input leaves the run as it was
                later.append(clear)
        return False
    if not writes:
        return False
    existed = out.is_dir()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--out {out}: cannot create the folder ({e.strerror or e})") from None
    try:
        _mark(out, record)
    except ConfigError:
        if not existed:  # made for this run, which never began: gone again, as the folder was
            with contextlib.suppress(OSError):
                out.rmdir()
        raise
    return True


def _same_filters_and_seed(out: Path, then: dict[str, Any], asked: dict[str, Any] | None) -> None:
    """Refuse a resume asked with other data filters or another seed than the run in
    ``out`` was trained with (``then``: what its record says), naming them as flags. The
    checkpoint refused them later, after the data was read, by its counts alone ("the
    data had 943 users and now has 917")."""
    from cinerec.errors import ConfigError

    if asked is None:
        return
    was, now = then.get("filters"), asked["filters"]
    if isinstance(was, dict) and was != now:
        raise ConfigError(f"--resume: the run in {out} was trained with {_filter_flags(was)}, and "
                          f"{_filter_flags(now)} is asked now; give the same filters to train it further")
    if _fold_named(then.get("fold")) and then.get("fold_given", True) and then["fold"] != asked.get("fold", then["fold"]):
        # The checkpoint refused another fold by its counts alone ("the 80,000 training
        # ratings are not the ones it was trained on").
        now = f"fold={asked['fold']} is asked" if asked.get("fold_given") else f"the default fold={asked['fold']} is taken"
        raise ConfigError(f"--resume: the run in {out} was trained on fold={then['fold']}, and {now} now; give "
                          f"--protocol-option fold={then['fold']} to train it further")
    if isinstance(then.get("seed"), int) and then["seed"] != asked["seed"]:
        raise ConfigError(f"--resume: the run in {out} was trained with --seed {then['seed']}, and --seed "
                          f"{asked['seed']} is asked now; give --seed {then['seed']} to train it further")
    # The catalogue, the columns and the scale read: another (or none) gives the run other
    # titles, genres and years, other data, or another line for "liked", which the saved
    # run would then hold.
    from cinerec.data.logs import CATALOG_ROLES, COLUMN_NAMES, scale_numbers

    order = [*COLUMN_NAMES, *CATALOG_ROLES]  # (run.json keeps the roles sorted by name)

    def columns(given: dict[str, str]) -> str:
        return ",".join(f"{k}={given[k]}" for k in sorted(given, key=lambda k: order.index(k) if k in order else 99))

    def scale(given: list[float]) -> str:
        return ",".join(f"{float(v):g}" for v in given)

    def text(given: Any) -> bool:
        return isinstance(given, (str, dict))

    def two_numbers(given: Any) -> bool:
        return isinstance(given, list) and scale_numbers(given) is not None

    for flag, none, say, readable in (("--catalog", "no catalogue is given", str, text),
                                      ("--columns", "no --columns are given", columns, text),
                                      ("--rating-scale", "no --rating-scale is given", scale, two_numbers)):
        key = flag[2:].replace("-", "_")
        if key not in then or then[key] == asked.get(key) or not (then[key] is None or readable(then[key])):
            continue  # (a record from before these were kept, or one hand-edited)
        was = f"{flag} {say(then[key])}" if then[key] else f"no {flag}"
        now = f"{flag} {say(asked[key])} is asked" if asked.get(key) else none
        way = f"give {flag} {say(then[key])}" if then[key] else f"leave {flag} out"
        raise ConfigError(f"--resume: the run in {out} was trained with {was}, and {now} now; {way} to train it "
                          "further")


def _filter_flags(filters: dict[str, Any]) -> str:
    """A run's record of its filters as the flags that ask for them (``--kcore 5
    --implicit``), or "no filters"; a record no flags can say, as it stands."""
    from cinerec.data.filters import Filters
    from cinerec.errors import CinerecError

    try:
        return Filters.from_mapping(filters, where="run.json").as_flags() or "no filters"
    except CinerecError:  # (a hand-edited record)
        return str(filters)


#: The file that says a folder is a ``train`` run's, finished or not (what it may clean up).
#: It holds what the run was asked (model, data, filters, protocol, seed) and, once its
#: search is done, the search's record: what a killed run resumed is checked against and
#: goes on with.
_MARK = TRAIN_MARK
_MARK_NEW = f"{_MARK}.new"  # (the mark, written whole, before it is put in place)


def _can_write_in(out: Path) -> None:
    """Refuse, before any data is read, a run folder (or its checkpoints/) where nothing can
    be written: a read-only copy was said to have its checkpoints dropped (they were not),
    and trained an epoch before its first checkpoint was refused."""
    import tempfile

    from cinerec.errors import ConfigError

    for folder in (out, out / "checkpoints"):
        if not folder.is_dir():
            continue
        try:
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as e:
            where = "the folder" if folder == out else "its checkpoints/ folder"
            raise ConfigError(f"--out {out}: cannot write in {where} ({e.strerror or e})") from None


def _mark(out: Path, record: dict[str, Any]) -> None:
    import json

    from cinerec.errors import ConfigError

    if not record.get("fold_given"):  # (the protocol's default is not the fold trained on until the data is
        record = _with_fold(record, None)  # read: it may have none)
    text, path = json.dumps(record, default=str), out / _MARK
    try:
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            return  # (under torchrun the other ranks may be reading it)
        staged = out / _MARK_NEW
        staged.write_text(text, encoding="utf-8")
        os.replace(staged, path)  # whole: a rank reading it, or a kill, never meets half a record
    except OSError as e:
        (out / _MARK_NEW).unlink(missing_ok=True)  # (a full disk leaves it empty: nothing of a run)
        raise ConfigError(f"--out {out}: cannot write in the folder ({e.strerror or e})") from None


def _protocol_options(name: str, options: Any) -> dict[str, Any]:
    """The ``--protocol-option`` values that decide what a run trains on, as a mark keeps
    them: those the protocol takes apart from its defaults, however written (``ks``, which
    names the figures reported alone, left out)."""
    import json

    from cinerec.evaluation.protocols import get_protocol

    taken = {k: v for k, v in get_protocol(name, **dict(options or {})).options().items() if k != "ks"}
    return dict(json.loads(json.dumps(taken, default=str)))


def _with_fold(record: dict[str, Any], fold: Any) -> dict[str, Any]:
    """``record`` (a mark's) holding ``fold`` as the fold trained on, or none (``None``)."""
    kept = {k: v for k, v in record.items() if k not in ("fold", "fold_given")}
    return kept if fold is None else {**kept, "fold": fold, "fold_given": True}


def _fold_named(fold: Any) -> bool:
    """Whether ``fold`` is one a run may have been trained on by name (``ratings-fold``'s
    ``fold``), not the random 80/20 split of data without official folds."""
    from cinerec.evaluation.protocols import EXTRA_FOLDS, OFFICIAL_FOLDS

    return fold in (*OFFICIAL_FOLDS, *EXTRA_FOLDS, "all")


def _fold(name: str, options: Any) -> dict[str, Any]:
    """The fold asked for, under a protocol that takes one (``{"fold": "u1"}``, its
    default when not given; nothing under the others)."""
    from cinerec.evaluation.protocols import get_protocol

    fold = getattr(get_protocol(name, **dict(options or {})), "fold", None)
    return {"fold": str(fold), "fold_given": "fold" in dict(options or {})} if fold is not None else {}


def _same_options(was: str, then: dict[str, Any], asked: dict[str, Any], way: str) -> None:
    """Refuse a resume asked with other protocol options than the run's (``then``, a
    finished or a killed run's record), naming both as typed."""
    import json

    from cinerec.errors import ConfigError

    def typed(options: dict[str, Any]) -> str:
        return " ".join(f"--protocol-option {k}={json.dumps(v)}" for k, v in sorted(options.items())) or \
            "no --protocol-option"

    if then["options"] != asked["options"]:
        raise ConfigError(f"--resume: {was} under {then['protocol']} with {typed(then['options'])}, and "
                          f"{typed(asked['options'])} is asked now; give the same --protocol-option values {way}")


def _marked(out: Path) -> dict[str, Any]:
    """What the mark in ``out`` keeps (:data:`_MARK`); empty when it keeps nothing (a
    mark from before it kept a record) or cannot be read."""
    import json

    try:
        record = json.loads((out / _MARK).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


#: What a train run writes into its folder (run.json, which finishes it, aside).
_TRAIN_OWN = frozenset({"checkpoints", "dataset", "models", "metrics.json", "report.md", "plots"})


@contextlib.contextmanager
def _undone_on_failure(out: Path, made: bool, *, keep_new: bool = False) -> Iterator[None]:
    """If the block fails, remove what it wrote into ``out`` (unless ``keep_new``: a killed
    training keeps its checkpoints, to resume), then ``out`` itself when this command made
    it and it is empty again."""
    import shutil

    from cinerec.errors import Diverged

    if not distributed_context().is_main:  # under torchrun rank 0 alone writes, and undoes
        yield
        return
    before = {p.name for p in out.iterdir()}
    try:
        yield
    except BaseException as e:
        for p in out.iterdir() if out.is_dir() and not keep_new else ():
            if p.name not in before:
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        checkpoints = out / "checkpoints"
        if isinstance(e, Diverged):  # resumed, they diverge again; and a smaller lr cannot resume them
            shutil.rmtree(checkpoints, ignore_errors=True)
        for fold in checkpoints.iterdir() if checkpoints.is_dir() else ():  # a fold's, with nothing in it yet
            if fold.is_dir() and not any(fold.iterdir()):
                fold.rmdir()
        if checkpoints.is_dir() and not any(checkpoints.iterdir()):  # nothing to resume from
            checkpoints.rmdir()
        # Nothing of a run is left: but a search's record is kept (the costly part; --resume
        # goes on with its choice), unless the training it chose diverged.
        searched = not isinstance(e, Diverged) and _marked(out).get("tuning") is not None
        if out.is_dir() and {p.name for p in contents(out)} - {_MARK_NEW} == {_MARK} and not searched:
            (out / _MARK).unlink()
            (out / _MARK_NEW).unlink(missing_ok=True)
        if made and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise


def _training(model: Any) -> dict[str, Any]:
    """How a neural model's training went: the epochs it ran out of those configured, and
    the epoch whose weights it keeps (the best on validation; the last without one)."""
    history = model.history
    kept = next((h["epoch"] for h in history if h.get("kept")), history[-1]["epoch"])
    configured = 1 if model.config.smoke else model.config.epochs
    return {"epochs": history[-1]["epoch"], "of": configured, "kept_epoch": kept,
            **({"stopped_by": history[-1]["stopped_by"]} if "stopped_by" in history[-1] else {})}


def _report(data: str, name: str, result: Any, history: list[dict[str, Any]], notes: list[str],
            seconds_epochs: float | None = None, tuned: Any = None, measured: Sequence[str] = (),
            dataset: Any = None, steps: Sequence[Any] = ()) -> str:
    from cinerec.config import settings_words
    from cinerec.data.dataset import counted, dataset_sizes
    from cinerec.data.filters import step_lines
    from cinerec.evaluation.report import figure_cell, unmeasured_note
    from cinerec.tuning import trials_text

    lines = [f"# {name} on {data}", ""]
    if dataset is not None:  # what was read, and what each filter left of it
        lines += [f"Data: {dataset_sizes(dataset)}"
                  f"{' (after the filters below)' if steps else ''}.", ""]
        lines += [*step_lines(steps), ""] if steps else []
    lines += [f"Protocol: {result.label}; {counted(result.n_users, 'user')} measured", "", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {figure_cell(v)} |" for k, v in result.metrics.items()]  # (n/a, not nan, said why below)
    unmeasured = unmeasured_note([result], list(result.metrics))
    if unmeasured:
        lines += ["", unmeasured]
    for line in notes:  # (each its own paragraph: lines one under the other run together as one)
        lines += ["", f"**Below popularity:** {line}."]
    for line in measured:  # what the figures measure, and how the data was read, as printed beside them
        lines += ["", f"**Note:** {line}."]
    if tuned is not None:
        lines += ["", "## Tuning (on the protocol's validation carve-out of the training part)", "",
                  f"Chosen settings `{settings_words(tuned.settings)}`: validation {tuned.metric} {tuned.value:.4f}, against "
                  f"{tuned.default_value:.4f} for the defaults; {trials_text(tuned.trials, tuned.metric, tuned.scored)} "
                  f"in {tuned.seconds:.1f} s "
                  "(every trial in run.json's `tuning`)."]
    fit = f"Fit {result.seconds_fit:.1f} s"
    if seconds_epochs is not None:  # a resumed run
        fit += f" since the resume; its {len(history)} epochs took {seconds_epochs:.1f} s in all (seconds_epochs)"
    lines += ["", f"{fit}, evaluation {result.seconds_eval:.1f} s.", ""]
    if history and "epoch" in history[0]:
        lines += ["## Training", "", "| epoch | loss | validation | samples/s |", "|---|---|---|---|"]
        for h in history:
            valid = f"{h['metric']} {h['valid']:.4f}" if "valid" in h else "-"
            valid += " (kept)" if h.get("kept") else ""
            lines.append(f"| {h['epoch']} | {h['loss']:.4f} | {valid} | {h['samples_per_s']:,.0f} |")
        if result.parts:  # the model kept is the last fold's; every fold has its own checkpoints and curves
            last = result.parts[-1].options.get("fold")
            lines += ["", f"The last fold's ({last}) training; each fold's curves: `checkpoints/FOLD/curves.png`.", ""]
        else:
            lines += ["", "Curves: `checkpoints/curves.png`.", ""]
    elif history:  # BPMF: one row per Gibbs sweep
        lines += ["## Training", "", "| sweep | training RMSE |", "|---|---|"]
        lines += [f"| {h['sweep']} | {h['train_rmse']:.4f} |" for h in history]
        lines += [""]
    return "\n".join(lines)
