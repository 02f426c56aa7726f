"""The README's examples run as written: its Python snippets on the real ml-100k, its
study file through the study reader, and its command lines name real commands and flags."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


@pytest.mark.slow
def test_the_python_snippets_run_on_the_real_ml100k(ml100k_dir, capsys):
    first, second = blocks("python")
    # The snippets name the release; here it is read from its folder, and searches are short.
    code = first.replace('load("ml-100k")', f"load({str(ml100k_dir)!r})")
    code = code.replace("trials=20", "trials=2")
    assert code.count(str(ml100k_dir)) == 1 and "trials=2)" in code
    scope: dict = {}
    exec(compile(code, "README.md (first Python block)", "exec"), scope)
    out = capsys.readouterr().out
    assert "user_id" in out and "reason" in out  # the top-10 frame printed
    # The second runs on its own too: it reads the data it tunes on (a fragment named one it never made).
    second = second.replace('load("ml-100k")', f"load({str(ml100k_dir)!r})").replace("trials=20", "trials=2")
    assert second.count(str(ml100k_dir)) == 1 and "trials=2," in second
    scope = {}
    exec(compile(second, "README.md (second Python block)", "exec"), scope)
    assert scope["found"].model.is_fitted and scope["found"].settings


def test_the_study_file_in_the_readme_is_one_the_reader_accepts(tmp_path):
    from cinerec.studies import Study

    (study,) = [b for b in blocks("toml") if "[protocol]" in b]
    path = tmp_path / "ncf.toml"
    path.write_text(study)
    s = Study.from_toml(path)
    assert s.protocol == "loo-sampled" and [m.label for m in s.models] == ["neumf-study", "neumf"]
    assert s.trials == 20 and s.export_two_stage is not None and s.reference is not None


def command_lines() -> list[list[str]]:
    """Each ``cinerec ...`` line of the README's shell blocks, continuations joined, as words."""
    import shlex

    lines = []
    for block in blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #", 1)[0].strip()
            if line.startswith("cinerec "):
                lines.append(shlex.split(line)[1:])
    return lines


def test_every_command_line_in_the_readme_names_real_commands_and_flags(capsys):
    from cinerec.cli import main

    lines = command_lines()
    assert len(lines) >= 10
    helps: dict[tuple[str, ...], str] = {}
    for words in lines:
        command = tuple(words[:2]) if words[0] == "data" else (words[0],)
        if command not in helps:
            try:
                code = main([*command, "--help"])
            except SystemExit as e:  # --help ends the parser
                code = e.code
            out = capsys.readouterr().out
            assert code in (0, None), f"cinerec {' '.join(command)}: not a command"
            helps[command] = out
        for word in words:
            if word.startswith("studies/"):  # a shipped study file
                assert (ROOT / word).is_file(), f"README names {word}, which is not in the repository"
            if word.startswith("--"):
                flag = word.split("=", 1)[0]
                assert re.search(rf"{re.escape(flag)}\b", helps[command]), \
                    f"cinerec {' '.join(command)} has no {flag} (README: cinerec {' '.join(words)})"


def doc_command_lines() -> list[tuple[str, list[str]]]:
    """Every ``cinerec ...`` and ``python benchmarks/....py ...`` line in docs/ and the
    README, fenced or inline, as ``(file, words)``."""
    import shlex

    found = []
    for md in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = md.read_text(encoding="utf-8")
        lines = [line.split("  #", 1)[0].strip().removeprefix("$ ")
                 for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)
                 for line in block.replace("\\\n", " ").splitlines()]
        lines += re.findall(r"`((?:cinerec|python benchmarks/)[^`]*)`", text)
        for line in lines:
            if line.startswith("cinerec ") or re.match(r"python benchmarks/\w+\.py\b", line):
                found.append((md.name, shlex.split(line)))
    return found


@pytest.mark.slow
def test_every_command_line_in_the_docs_names_real_commands_and_flags(capsys, monkeypatch):
    import runpy
    import sys

    from cinerec.cli import main

    def help_of(argv: list[str]) -> str | None:
        try:
            if argv[0] == "cinerec":
                code = main([*argv[1:], "--help"])
            else:
                monkeypatch.setattr(sys, "argv", [argv[0], *argv[1:], "--help"])
                runpy.run_path(str(ROOT / argv[0]), run_name="__main__")
                code = 0
        except SystemExit as e:  # --help ends the parser
            code = e.code
        out = capsys.readouterr().out
        return out if code in (0, None) else None

    found = doc_command_lines()
    assert len(found) >= 100
    helps: dict[tuple[str, ...], str | None] = {}
    for name, words in found:
        if words[0] == "cinerec":
            if words[1].isupper():  # a placeholder: cinerec COMMAND --help
                continue
            command = ("cinerec", *words[1:3]) if words[1] == "data" else ("cinerec", words[1])
        else:
            # A script's subcommand (bench_two_stage.py speed), when the word after it is no flag or path.
            sub = words[2:3] if len(words) > 2 and re.fullmatch(r"[a-z]+", words[2]) else []
            command = (words[1], *sub)
        if command not in helps:
            helps[command] = help_of(list(command))
        assert helps[command] is not None, f"{name}: {' '.join(command)} is no command"
        for word in words:
            if word.startswith("--"):
                flag = word.split("=", 1)[0]
                assert re.search(rf"{re.escape(flag)}\b", helps[command] or ""), \
                    f"{name}: {' '.join(command)} has no {flag} ({' '.join(words)})"
