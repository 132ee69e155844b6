"""t2t-hf: captions of smartphone activity from encrypted traffic, Hugging Face-native."""

from .errors import T2TInputError, T2TInputWarning
from .traffic import PacketTable, Window, iter_capture, read_capture

__version__ = "0.1.0"
__all__ = ["T2TInputError", "T2TInputWarning", "PacketTable", "Window", "read_capture", "iter_capture"]
