"""Say "stop" over the guide through a real sound server, in real time.

Run in a fresh process whose PulseAudio server has the room
(:meth:`tests.audio.PulseServer.start` with ``room=``)::

    python -m tests.bargein_play ROUTINE PLAN.json OUT.json

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
"""

from __future__ import annotations

import json
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


def main(routine: str, plan_path: str, out_path: str) -> None:
    from voiceguide import session

    plan = json.loads(Path(plan_path).read_text())
    prepared = session.prepare(routine, {"volume": plan.get("volume")}, notice=False)
    options = session.PlayOptions(listen="on", checkin_timeout=3.0, barge_in=True)
    listener = session.start_listening(options)
    options.listener = listener
    heard: list = []
    listener.on_answer = lambda answer, deliver=listener.on_answer: (
        heard.append((time.monotonic(), answer.word, answer.confidence, answer.heard)),
        deliver(answer))
    dialogue = session.Dialogue(prepared, options)
    player = session._player(prepared, prepared.timeline, options, dialogue, dialogue.word)
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
                player.switched_at is not None and player.switched_at > asked):
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
                        "sound_stopped_at": player.switched_at if switched else None,
                        "answers": [h for h in heard if h[0] >= asked]})
    player.finish("quit")
    runner.join(10)
    user.close()
    listener.stop()
    bargein = listener.bargein
    Path(out_path).write_text(json.dumps({
        "trials": results, "unprompted": unprompted,
        "dropped_as_echo": bargein.dropped_as_echo, "cancels_echo": bargein.cancels_echo,
        "anchors": bargein.reference.anchors if bargein.reference else None}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
