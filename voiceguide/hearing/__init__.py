"""The microphone side: what a person says, heard even while the guide speaks.

What is heard flows one way, each module doing one job:

* :mod:`~voiceguide.hearing.listener`: the microphone (sounddevice); each block,
  stamped with when it was captured, goes to barge-in in the listener's own
  thread, and what is heard to the listener's ``on_heard`` callback;
* :mod:`~voiceguide.hearing.bargein`: the guide's voice taken out of each block
  (:mod:`~voiceguide.hearing.echo`), the rest cut into utterances
  (:mod:`~voiceguide.hearing.endpointer`), each decided: only a stop over the
  guide's voice, any answer while it is quiet;
* :mod:`~voiceguide.hearing.recognizer`: one utterance -> a
  :class:`~voiceguide.hearing.recognizer.Heard`, by the confidence and safety
  rules, over what :mod:`~voiceguide.hearing.decoder` (PocketSphinx) found with
  the language of :mod:`~voiceguide.hearing.language` (built from
  :mod:`voiceguide.vocabulary`);
* :mod:`~voiceguide.hearing.process`: the recognizer in a worker process, used
  with barge-in so that decoding never makes the guide's voice stutter.
"""
