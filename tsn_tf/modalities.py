"""Input modalities of TSN and what each one means for the model and the data.

A snippet of a modality stacks `snippet_length` (L) items of
`channels_per_item` channels: RGB one frame (3), optical flow L=5 x/y pairs
(10), RGB difference L=5 differences of L+1 frames (15). Audio is one
log-mel patch per segment, a fixed (time, mel) = (96, 64) "image" with one
channel (input/pipeline/audio_dataset.py PATCH_FRAMES, input/contract/log_mel.py MEL_BINS).
"""
import dataclasses
from typing import Optional, Tuple


@dataclasses.dataclass(frozen=True)
class Modality:
    name: str
    channels_per_item: int   # channels one frame / flow field / difference adds
    snippet_length: int      # L: items stacked per snippet
    dropout: float           # dropout before the classifier (paper: RGB 0.8, flow 0.7)
    crop_scales: tuple       # multi-scale crop scales of the reference code
    item_shape: Optional[Tuple[int, int]] = None  # fixed (H, W) of a snippet; None: square

    @property
    def channels(self) -> int:
        """Channels of one snippet: C·L."""
        return self.channels_per_item * self.snippet_length


_RGB_SCALES = (1.0, 0.875, 0.75, 0.66)
_MOTION_SCALES = (1.0, 0.875, 0.75)

MODALITIES = {
    "rgb": Modality("rgb", 3, 1, 0.8, _RGB_SCALES),
    "flow": Modality("flow", 2, 5, 0.7, _MOTION_SCALES),
    "warped_flow": Modality("warped_flow", 2, 5, 0.7, _MOTION_SCALES),
    # tsn-pytorch uses the RGB dropout for RGB difference; we follow it.
    "rgb_diff": Modality("rgb_diff", 3, 5, 0.8, _MOTION_SCALES),
    # (frames of 10 ms, mel bins); no crops: SpecAugment masks instead.
    "audio": Modality("audio", 1, 1, 0.5, (), item_shape=(96, 64)),
}


def get_modality(name: str) -> Modality:
    """The `Modality` called `name`; a ValueError lists the known ones."""
    if name not in MODALITIES:
        raise ValueError(f"Unknown modality {name!r}. Known: {sorted(MODALITIES)}")
    return MODALITIES[name]
