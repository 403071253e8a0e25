"""Renderer: a timeline → one stream of float32 audio blocks at the timeline's rate.

Clips and cues land at their exact sample positions, with quiet in between and a
short fade at each clip's edges. It streams: only the current block and a few
recently used clips are in memory, however long the routine. It knows nothing of
devices, files or terminals; the player and the exporter both draw from it, so
what is heard and what is exported are the same samples.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Iterator

import numpy as np

from voiceguide.audio import pcm
from voiceguide.timing.timeline import SAMPLE_RATE, Event, EventKind, Timeline

BLOCK = 2048                 # frames per block (93 ms at 22050 Hz)
FADE = int(0.005 * SAMPLE_RATE)  # 5 ms fade in and out at clip edges
SPEECH_GAIN = 0.8            # for clips at -3 dBFS peak; levelled clips (loudness.py) take 1.0
CLIP_MEMORY = 48             # converted clips kept in memory


class Renderer:
    """Turns a timeline into audio.

    ``clip_for(text)`` returns a synthesized clip (int16 or float) for a spoken
    text; ``cues`` maps cue names to float32 sounds. ``volume`` scales everything,
    ``cue_volume`` the cues only (0.0-1.0); ``speech_gain`` and ``cue_gain`` are the
    fixed levels of speech and cues before those. With ``preload`` every clip of the
    timeline is read and prepared up front, so :meth:`render_into` touches no disk
    and allocates nothing: safe inside an audio callback (``ready(text)`` limits
    the preload to clips that exist; the caller never renders past them). Without
    it, a few recently used clips are kept, and memory stays flat however long
    the routine.
    """

    def __init__(self, timeline: Timeline, clip_for: Callable[[str], np.ndarray],
                 cues: dict[str, np.ndarray], volume: float = 1.0, cue_volume: float = 1.0,
                 preload: bool = False, ready: Callable[[str], bool] | None = None,
                 speech_gain: float = SPEECH_GAIN, cue_gain: float = 1.0):
        self.timeline = timeline
        self.clip_for = clip_for
        self.volume = volume
        self.speech_gain = speech_gain
        self.cues = {name: (sound * (volume * cue_volume * cue_gain)).astype(np.float32)
                     for name, sound in cues.items()}
        self._clips: OrderedDict[str, np.ndarray] = OrderedDict()
        timeline.event_index_at(0)  # index the events now, not in the audio callback
        self._memory = None if preload else CLIP_MEMORY
        if preload:
            for event in timeline.events:
                if event.text is not None and (ready is None or ready(event.text)):
                    self._audio(event)

    def _speech(self, text: str, length: int) -> np.ndarray:
        clip = self._clips.get(text)
        if clip is None:
            clip = prepare_clip(self.clip_for(text), length, self.speech_gain * self.volume)
            self._clips[text] = clip
            if self._memory is not None and len(self._clips) > self._memory:
                self._clips.popitem(last=False)
        elif self._memory is not None:
            self._clips.move_to_end(text)
        return clip

    def _audio(self, event: Event) -> np.ndarray | None:
        if event.kind == EventKind.SPEECH:
            return self._speech(event.text, event.length)
        if event.kind == EventKind.CHECKIN:
            return self._speech(event.text, event.length - event.pause)
        if event.kind == EventKind.CUE:
            return self.cues[event.cue]
        return None

    def render_into(self, out: np.ndarray, start: int) -> None:
        """Fill ``out`` with the audio from timeline sample ``start`` on."""
        out.fill(0.0)
        end = start + len(out)
        events = self.timeline.events
        index = self.timeline.event_index_at(start)
        while index < len(events) and events[index].start < end:
            event = events[index]
            index += 1
            if event.end <= start or event.kind == EventKind.SILENCE:
                continue
            audio = self._audio(event)
            lo = max(start, event.start)
            hi = min(end, event.start + len(audio))
            if hi > lo:
                out[lo - start:hi - start] = audio[lo - event.start:hi - event.start]

    def blocks(self, start: int = 0, stop: int | None = None,
               block: int = BLOCK) -> Iterator[np.ndarray]:
        """Blocks of audio from sample ``start`` up to ``stop`` (the end by default)."""
        total = self.timeline.total_samples
        stop = total if stop is None else min(stop, total)
        position = start
        while position < stop:
            out = np.empty(min(block, stop - position), dtype=np.float32)
            self.render_into(out, position)
            yield out
            position += len(out)


def prepare_clip(clip: np.ndarray, length: int, gain: float) -> np.ndarray:
    """A clip as float32 of exactly ``length`` samples, gained, with faded edges."""
    audio = np.asarray(clip)
    if audio.dtype == np.int16:
        audio = pcm.to_float(audio)
    audio = np.array(audio[:length], dtype=np.float32) * gain
    if len(audio) < length:
        audio = np.concatenate([audio, np.zeros(length - len(audio), np.float32)])
    fade = min(FADE, length // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade, endpoint=False, dtype=np.float32)
        audio[:fade] *= ramp
        audio[length - fade:] *= ramp[::-1]
    return audio
