"""Say "stop" over the guide through a real sound server, in real time.

Run in a fresh process whose PulseAudio server has the room
(:meth:`tests.support.audio.PulseServer.start` with ``room=``)::

    python -m tests.support.bargein_play ROUTINE PLAN.json OUT.json

The guide plays with the real player, the real listener (echo canceller,
endpointer, PocketSphinx) and the real check-in dialogue, with barge-in on. The
player plays into the room sink, which convolves it with a room impulse
response into the null sink; the microphone is the null sink's monitor. The
user's voice is a second output stream into the same room, in this process.

The plan: the guide's ``volume`` (the setting; full when left out), ``warmup``
seconds of the routine played from its start with nobody speaking, then its
``trials``. For each trial (``{"target": s, "lead": s, "path": .npy at 22050
Hz, "scale": gain}``) the player seeks to ``lead`` seconds before ``target``;
when the playhead reaches ``target`` the user says the words; then it waits
for the guide's sound to stop (the player switching to the stop message, or to
"Did you say stop?"). Seeking from trial to trial is what a test does, not a
user: it lets twenty stops fit in two minutes of one session.

OUT.json gets per trial: when the last sample of the words was heard, when the
routine's sound stopped (the first sample of the stop message heard), which
timeline it switched to, and the answers heard; plus every switch that came
when nobody spoke (``unprompted``: the guide stopping itself).

With ``VOICEGUIDE_TEST_CAPTURE`` set to a folder, everything barge-in was fed
(each microphone block with its capture time, the reference it was given, and
whether the guide said a stop word then) is saved there too, with the trials,
for :mod:`tests.support.bargein_replay` to play through barge-in again, offline.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

RATE = 22050
#: The timelines the player switches to when it heard stop.
STOPPING = ("stop", "confirm-stop")


class UserVoice:
    """A person in the room: an output stream that says a clip when told to, and
    notes when its last sample is heard (on ``time.monotonic``'s clock)."""

    def __init__(self):
        import sounddevice as sd

        self._clip = np.zeros(0, np.float32)
        self._at = 0
        self.ended_at: float | None = None
        self._stream = sd.OutputStream(samplerate=RATE, channels=1, dtype="float32",
                                       callback=self._callback, latency="high")
        self._stream.start()

    def say(self, clip: np.ndarray) -> None:
        self.ended_at = None
        self._at = 0
        self._clip = clip.astype(np.float32)

    def _callback(self, outdata, frames, time_info, status) -> None:
        out = outdata[:, 0]
        out[:] = 0.0
        clip, at = self._clip, self._at
        n = min(frames, len(clip) - at)
        if n <= 0:
            return
        out[:n] = clip[at:at + n]
        self._at = at + n
        if self._at == len(clip):
            delay = time_info.outputBufferDacTime - time_info.currentTime
            self.ended_at = time.monotonic() + max(delay, 0.0) + n / RATE

    def close(self) -> None:
        self._stream.stop()
        self._stream.close()


class Capture:
    """Records what :class:`~voiceguide.hearing.bargein.BargeIn` is fed (see the module
    docstring); :meth:`save` writes it, with the trials, to one ``.npz`` file."""

    def __init__(self, bargein):
        self.bargein = bargein
        self.blocks: list = []
        self._reference = None
        feed, next_reference = bargein.feed, bargein.reference.next

        def reference(captured_at: float, count: int) -> np.ndarray:
            self._reference = next_reference(captured_at, count)
            return self._reference

        def fed(block: np.ndarray, captured_at: float, speaking: bool):
            answer = feed(block, captured_at, speaking)
            end = captured_at + len(block) / bargein.rate
            self.blocks.append((captured_at, speaking, block.copy(), self._reference.copy(),
                                bargein.reference.tap.says_stop_word(captured_at, end)))
            return answer

        bargein.reference.next = reference
        bargein.feed = fed

    def save(self, path: Path, trials: list, unprompted: list) -> None:
        at, speaking, mic, reference, stop_word = zip(*self.blocks)
        np.savez_compressed(path, at=np.array(at), speaking=np.array(speaking),
                            mic=np.stack(mic), reference=np.stack(reference),
                            stop_word=np.array(stop_word), rate=self.bargein.rate,
                            trials=json.dumps(trials), unprompted=json.dumps(unprompted))


def _sound_stopped_at(player, since: float) -> float | None:
    """When the routine's sound stopped after ``since``: the player hushed (a sure
    stop, while the stop path is being prepared) or switched to what followed."""
    times = [t for t in (player.output.hushed_at, player.output.switched_at)
             if t is not None and t > since]
    return min(times, default=None)


def main(routine: str, plan_path: str, out_path: str) -> None:
    from voiceguide.session import play as session
    from voiceguide.session import prepare as preparing
    from voiceguide.session.dialogue import Dialogue

    plan = json.loads(Path(plan_path).read_text())
    prepared = preparing.prepare_named(routine, {"volume": plan.get("volume")})
    options = session.PlayOptions(listen="on", checkin_timeout=3.0, barge_in=True)
    listener = session.start_listening(options)
    options.listener = listener
    heard: list = []
    listener.on_heard = lambda answer, deliver=listener.on_heard: (
        heard.append((time.monotonic(), answer.word, answer.confidence, answer.heard)),
        deliver(answer))
    capture_to = os.environ.get("VOICEGUIDE_TEST_CAPTURE")
    capture = Capture(listener.bargein) if capture_to and listener.bargein.cancels_echo else None
    dialogue = Dialogue(prepared, options.inbox, options.checkin_timeout)
    player = session._player(prepared, prepared.timeline, options, dialogue)
    user = UserVoice()
    runner = threading.Thread(target=player.run, daemon=True)
    runner.start()
    routine_timeline = prepared.timeline

    def go_to(sample: int) -> None:
        player.ending = "completed"
        player.seek(sample, routine_timeline)
        deadline = time.monotonic() + 2
        while player.timeline is not routine_timeline and time.monotonic() < deadline:
            time.sleep(0.005)

    results, unprompted = [], []
    last = 0

    def play_until(target: int) -> None:
        """Play the routine to ``target``, noting every stop nobody said."""
        nonlocal last
        while player.position < target or player.timeline is not routine_timeline:
            if not runner.is_alive():
                raise SystemExit("the player ended")
            if player.timeline is routine_timeline:
                last = player.position
            elif player.timeline.routine in STOPPING:        # nobody spoke
                unprompted.append({"at": last / RATE, "timeline": player.timeline.routine,
                                   "heard": heard[-1:]})
                go_to(last)
            time.sleep(0.005)

    # the canceller learns the room over the routine's first seconds (no check-in there)
    play_until(int(plan["warmup"] * RATE))
    for trial in plan["trials"]:
        target = int(trial["target"] * RATE)
        go_to(max(0, target - int(trial["lead"] * RATE)))
        play_until(target)
        asked = time.monotonic()
        user.say(np.load(trial["path"]) * trial["scale"])
        deadline = asked + 6.0
        while time.monotonic() < deadline and not (
                player.timeline.routine in STOPPING and
                player.output.switched_at is not None and player.output.switched_at > asked):
            time.sleep(0.005)
        switched = player.timeline.routine in STOPPING
        # the rest of the words (the second "stop" of "stop stop") belongs to this trial
        settle = time.monotonic() + 4.0
        while time.monotonic() < settle and (
                user.ended_at is None or time.monotonic() < user.ended_at + 1.0):
            time.sleep(0.01)
        results.append({"target": trial["target"], "said": trial["said"],
                        "word_end": user.ended_at,
                        "stopped_to": player.timeline.routine if switched else None,
                        "sound_stopped_at": _sound_stopped_at(player, asked) if switched else None,
                        "answers": [h for h in heard if h[0] >= asked]})
    player.finish("quit")
    runner.join(10)
    user.close()
    listener.stop()
    bargein = listener.bargein
    if capture is not None and capture.blocks:
        capture.save(Path(capture_to) / f"{routine}-{os.getpid()}-{int(time.time())}.npz",
                     results, unprompted)
    Path(out_path).write_text(json.dumps({
        "trials": results, "unprompted": unprompted,
        "dropped_as_echo": bargein.dropped_as_echo, "cancels_echo": bargein.cancels_echo,
        "anchors": bargein.reference.anchors if bargein.reference else None,
        "moved": bargein.reference.correction if bargein.reference else None}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
