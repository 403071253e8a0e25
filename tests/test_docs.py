"""Every TOML example in the docs loads, so the docs cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from voiceguide import loader

DOCS = Path(__file__).resolve().parent.parent / "docs"
EXAMPLES = [(doc.name, i, block) for doc in sorted(DOCS.glob("*.md"))
            for i, block in enumerate(re.findall(r"```toml\n(.*?)```", doc.read_text(), re.S))]


def test_there_are_examples():
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("doc, index, block", EXAMPLES)
def test_example_loads(tmp_path, doc, index, block):
    first = block.splitlines()[0]
    name = re.match(r"#\s*(?:[\w-]+/)?([\w-]+)\.toml", first)
    path = tmp_path / (f"{name.group(1)}.toml" if name else "example.toml")
    path.write_text(block)
    library = loader.load_library(tmp_path / "user")
    assert loader.check_file(path, library) == []
