"""voiceguide: a hands-free, voice-guided player for gentle back-relief routines."""

__version__ = "0.1.0"
