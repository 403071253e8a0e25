"""Every TOML example in the docs loads, so the docs cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from voiceguide import settings
from voiceguide import catalog
from voiceguide.routine import loader

DOCS = Path(__file__).resolve().parent.parent / "docs"
EXAMPLES = [(doc.name, i, block) for doc in sorted(DOCS.glob("*.md"))
            for i, block in enumerate(re.findall(r"```toml\n(.*?)```", doc.read_text(), re.S))]


def test_there_are_examples():
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("doc, index, block", EXAMPLES)
def test_example_loads(tmp_path, doc, index, block):
    first = block.splitlines()[0]
    if first == "# settings.toml":
        path = tmp_path / "settings.toml"
        path.write_text(block)
        assert settings.read_file(path)
        return
    name = re.match(r"#\s*(?:[\w-]+/)?([\w-]+)\.toml", first)
    path = tmp_path / (f"{name.group(1)}.toml" if name else "example.toml")
    path.write_text(block)
    library = catalog.load_library(tmp_path / "user")
    assert catalog.check_file(path, library) == []


def test_settings_reference_lists_every_key_as_the_code_has_it():
    text = (DOCS / "settings.md").read_text()
    for key in settings.KEYS:
        assert settings.doc_row(key) in text, f"docs/settings.md: update the row of {key}"


def test_format_reference_lists_every_key_the_loader_takes():
    text = (DOCS / "format.md").read_text()
    for key in loader.TECHNIQUE_KEYS + loader.EXERCISE_KEYS + loader.ROUTINE_KEYS:
        assert f"`{key}`" in text or f"[{key}]" in text or f"[[{key}]]" in text, key
    for kind, keys in loader.MOVEMENT_KEYS.items():
        assert f'kind = "{kind}"' in text
        for key in keys:
            assert f"`{key}`" in text, (kind, key)
