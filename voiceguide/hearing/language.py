"""The recognizer's language: what it can hear, and what each heard word means.

Everything here is built from :mod:`voiceguide.vocabulary` (the words themselves
are listed only there): the training sentences of the decoder's language model,
its ARPA text, the pronunciation dictionary of just the words they hold, and the
answer each decoded word sequence means.

The language is made of *answers* and *carrier phrases*. Answers are the
spoken answers (vocabulary.SPOKEN_ANSWERS), the stop signs and a few synonyms
("okay", "fine" -> good; "go on" -> resume). Carriers carry no meaning of
their own ("it feels", "a bit", "my leg is", "I do", "please"). Every
multi-word item is one dictionary entry (its words' pronunciations joined), so
that no lone short word ("a", "it") can win on its own. The training
sentences pair each carrier evenly with every answer of the kind it goes with,
stop signs and other answers alike, so no carrier leans towards stop ("feels
numb" is no likelier than "feels good"); and they repeat each answer alone, so
an answer is always likelier than filler. A hypothesis means ``stop`` when any
of its words does, else its first answer word ("yes, I do" is yes).
"""

from __future__ import annotations

from voiceguide.vocabulary import (CARRIERS, NO_ANSWER, NUMBER_CARRIERS, SPOKEN_ANSWERS,
                                   SPOKEN_NUMBERS, STOP, STOP_SIGNS, SYNONYMS, word_answer)

#: How often each answer alone is in the training text.
ALONE_WEIGHT = 4

#: The noise dictionary: silence only. PocketSphinx's noise "words" ([NOISE],
#: [SPEECH]) are left out on purpose: they could swallow a spoken "stop"; the
#: recognizer's confidence rules reject noise.
NOISE_DICTIONARY = "<s> SIL\n</s> SIL\n<sil> SIL\n"


def token(text: str) -> str:
    """The dictionary entry of a word or phrase (phrases joined with ``_``)."""
    return text.replace(" ", "_")


def sentences() -> list[str]:
    """The language model's training sentences (see the module docstring)."""
    answers = [*SPOKEN_ANSWERS, *(w for w in STOP_SIGNS if " " not in w), *SYNONYMS]
    out = [token(a) for a in dict.fromkeys(answers) for _ in range(ALONE_WEIGHT)]
    for befores, kind, afters in CARRIERS:
        out += [f"{token(c)} {token(a)}" for c in befores for a in kind]
        out += [f"{token(a)} {token(c)}" for c in afters for a in kind]
    befores, afters = NUMBER_CARRIERS
    for number in SPOKEN_NUMBERS:
        out += [f"{c} {number}" for c in befores] + [f"{number} {c}" for c in afters]
    out.append("stop stop")
    return out


#: The training sentences of the answers' language model.
CORPUS = sentences()
#: The dictionary entries of the carrier phrases.
FILLER = frozenset(token(c) for befores, _, afters in CARRIERS for c in (*befores, *afters))


def label(word: str) -> str | None:
    """The answer one dictionary entry means, or None for a carrier phrase."""
    word = word.split("(")[0]
    if word in FILLER:
        return None
    return word_answer(word.replace("_", " "))


def label_of(text: str) -> str:
    """The answer a decoded word sequence means: ``stop`` if any word means
    stop, else its first answer word (people lead with the answer: "yes, I do",
    "good, thanks"), else ``none``."""
    labels = [lab for lab in (label(w) for w in text.split()) if lab and lab != NO_ANSWER]
    if STOP in labels:
        return STOP
    return labels[0] if labels else NO_ANSWER


def stop_sentences() -> list[str]:
    """The training sentences that mean stop: the stop-only language model."""
    return [s for s in CORPUS if label_of(s) == STOP]


def heard_text(text: str) -> str:
    """Decoded dictionary words as plain text (phrases split, variants unmarked)."""
    return " ".join(w.split("(")[0].replace("_", " ") for w in text.split())


def arpa(corpus: list[str]) -> str:
    """A bigram ARPA model of ``corpus`` (fixed discounting, from pocketsphinx.lm)."""
    import io

    from pocketsphinx.lm import ArpaBoLM

    lm = ArpaBoLM(text="\n".join(corpus), add_start=True, discount_mass=0.01)
    lm.compute()
    buf = io.StringIO()
    lm.write(buf)
    return buf.getvalue()


def dictionary(cmudict: str) -> str:
    """The pronunciation dictionary of the words in :data:`CORPUS`, taken from the
    CMU dictionary file ``cmudict``: every pronunciation of each word, and each
    phrase as its words' first pronunciations joined. Just these words: with the
    whole CMU dictionary, building each language-model search takes seconds."""
    tokens = {t for sentence in CORPUS for t in sentence.split()}
    prons = _pronunciations(cmudict, {w for t in tokens for w in t.split("_")})
    lines = []
    for word, alternatives in sorted(prons.items()):
        for i, phones in enumerate(alternatives):
            lines.append(f"{word if i == 0 else f'{word}({i + 1})'} {phones}")
    for entry in sorted(tokens):
        if "_" in entry:  # a phrase: its words' first pronunciations joined
            lines.append(entry + " " + " ".join(prons[w][0] for w in entry.split("_")))
    return "\n".join(lines) + "\n"


def _pronunciations(cmudict: str, words: set[str]) -> dict[str, list[str]]:
    """Every pronunciation the CMU dictionary file gives each of ``words``, in its order."""
    prons: dict[str, list[str]] = {}
    with open(cmudict, encoding="utf-8") as f:
        for line in f:
            head, _, phones = line.strip().partition(" ")
            if head.split("(")[0] in words:
                prons.setdefault(head.split("(")[0], []).append(phones.strip())
    missing = words - prons.keys()
    if missing:  # cannot happen with the shipped dictionary
        raise RuntimeError(f"words missing from the dictionary: {sorted(missing)}")
    return prons
