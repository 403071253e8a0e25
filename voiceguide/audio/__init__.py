"""Sound: PCM samples, cues, loudness, the renderer, the output stream, devices, export."""
