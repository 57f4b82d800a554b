"""The documented configuration is the real one: every Settings field's environment variable is in .env.example
(commented out, with the field's default) and in the README's configuration table, and neither file names a
variable Settings does not know."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import AliasChoices, TypeAdapter

from bot.settings import ROOT, Settings

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / ".env.example"
README = REPO / "README.md"
# A commented-out assignment in .env.example: "# NAME=value".
ASSIGNMENT = re.compile(r"^#\s?([A-Z][A-Z0-9_]*)=(.*)$")
# Names that look like this project's variables wherever they appear in the README.
OURS = re.compile(r"(?<![A-Za-z0-9_])((?:BOT|LLM|CHROMA|OLLAMA)_[A-Z0-9_]+)(?![A-Za-z0-9_])")


def env_names() -> dict[str, str]:
    """Environment variable → field name: the first choice of each field's validation alias."""
    names = {}
    for field_name, info in Settings.model_fields.items():
        alias = info.validation_alias
        assert isinstance(alias, AliasChoices), f"{field_name} has no AliasChoices env alias"
        first = alias.choices[0]
        assert isinstance(first, str) and first.isupper(), f"{field_name}: first alias {first!r} is not an env name"
        names[first] = field_name
    return names


def example_entries() -> dict[str, list[str]]:
    entries: dict[str, list[str]] = {}
    for line in EXAMPLE.read_text("utf-8").splitlines():
        m = ASSIGNMENT.match(line)
        if m:
            entries.setdefault(m.group(1), []).append(m.group(2).strip())
    return entries


def mentioned(name: str, text: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", text) is not None


def test_every_setting_is_in_env_example_once():
    entries = example_entries()
    missing = sorted(set(env_names()) - set(entries))
    assert not missing, f".env.example lacks {missing}"
    twice = sorted(name for name, values in entries.items() if len(values) > 1)
    assert not twice, f".env.example sets {twice} more than once"


def test_env_example_names_only_known_settings():
    unknown = sorted(set(example_entries()) - set(env_names()))
    assert not unknown, f".env.example has variables Settings does not read: {unknown}"


def test_env_example_is_all_commented_out():
    live = [line for line in EXAMPLE.read_text("utf-8").splitlines() if line.strip() and not line.startswith("#")]
    assert not live, f".env.example must only hold comments (copying it changes nothing): {live}"


def test_env_example_shows_each_default():
    """The value after `=` is the field's default: empty for None, a path relative to the repository for the
    repository's folders, otherwise the default as the environment would spell it."""
    entries, names = example_entries(), env_names()
    for env, field_name in names.items():
        value = entries[env][0]
        info = Settings.model_fields[field_name]
        default = info.default
        if default is None:
            assert value == "", f"{env}: the default is unset, .env.example says {value!r}"
        elif isinstance(default, Path):
            assert (ROOT / value).resolve() == default.resolve(), f"{env}: {value!r} is not {default}"
        else:
            parsed = TypeAdapter(info.annotation).validate_python(value)
            assert parsed == default, f"{env}: .env.example says {value!r}, the default is {default!r}"


def test_every_setting_is_in_the_readme_table():
    text = README.read_text("utf-8")
    rows = "\n".join(line for line in text.splitlines() if line.startswith("|"))
    missing = sorted(name for name in env_names() if not mentioned(name, rows))
    assert not missing, f"README.md's configuration table lacks {missing}"


def test_readme_names_only_known_settings():
    known = set(env_names())
    unknown = sorted({m.group(1) for m in OURS.finditer(README.read_text("utf-8"))} - known)
    assert not unknown, f"README.md mentions variables Settings does not read: {unknown}"
