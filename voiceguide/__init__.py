"""voiceguide: a hands-free, voice-guided player for gentle back-relief routines."""

import enum

__version__ = "0.1.0"

if hasattr(enum, "StrEnum"):
    StrEnum = enum.StrEnum
else:  # Python 3.10
    class StrEnum(str, enum.Enum):
        """A string-valued enum whose members are their values (``enum.StrEnum``)."""

        __str__ = str.__str__
        __format__ = str.__format__
