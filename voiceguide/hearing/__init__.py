"""The microphone side: listening, echo cancellation, barge-in, endpointing, recognition."""
