"""What the tests share that is not a fixture: the installed command run as a person
runs it (cli), a pseudo-terminal (terminal), real audio devices without a sound card
(audio), a simulated room and spoken samples for barge-in (room, voice_samples), and
the tools that record and replay what barge-in was fed (bargein_play, bargein_replay)."""
