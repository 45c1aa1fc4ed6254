"""VTN Attention Explorer: load Video Transformer Network checkpoints, run whole videos, read [CLS] attention."""
from vtn_core.checkpoint import detect_format, load_checkpoint, save_checkpoint
from vtn_core.config import Preprocessing, VTNConfig
from vtn_core.errors import CheckpointError, DataError, VideoError, VTNError
from vtn_core.model import VTN, VTNOutput

__all__ = [
    "VTN", "VTNOutput", "VTNConfig", "Preprocessing", "load_checkpoint", "save_checkpoint", "detect_format",
    "VTNError", "CheckpointError", "VideoError", "DataError",
]
__version__ = "0.1.0"
