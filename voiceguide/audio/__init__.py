"""Sound: PCM samples, the streams' clock, cues, loudness, the renderer, the output stream,
devices, export."""
