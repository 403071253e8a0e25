"""Write tests/data/source-6grams.txt: hashes of every run of six words in the
source texts, so a test can check that no spoken line copies them (the texts
themselves are not part of the repository).

The texts are the two articles and the restored English of the second, whose
original went through a garbling rewording (a copy of its real wording would
not match the garbled text):

    python scripts/source_ngrams.py ../shared/sources/source-a-self-relief-techniques.txt \
        ../shared/sources/source-b-lower-back-safety.txt ../shared/sources/source-b-english.txt
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

N = 6
OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "source-6grams.txt"


def words(text: str) -> list[str]:
    """Lowercase words, apostrophes kept, everything else a separator."""
    return re.findall(r"[a-z0-9']+", text.lower().replace("\u2019", "'"))


def ngram_hashes(text: str, n: int = N) -> set[str]:
    """A short hash of every run of ``n`` consecutive words."""
    w = words(text)
    return {hashlib.sha1(" ".join(w[i:i + n]).encode()).hexdigest()[:16]
            for i in range(len(w) - n + 1)}


def main(paths: list[str]) -> None:
    hashes: set[str] = set()
    for path in paths:
        hashes |= ngram_hashes(Path(path).read_text(encoding="utf-8"))
    OUT.write_text("\n".join(sorted(hashes)) + "\n")
    print(f"wrote {len(hashes)} hashes to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
