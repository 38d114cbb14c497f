"""ImageNet pixel normalisation, the one formula the data pipeline (NumPy) and the network (uint8 input) share."""
import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def pixel_affine(num_frames, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """float32 `(scale, shift)` of shape `(num_frames*3,)`: `x * scale - shift == (x / 255 - mean) / std` for 0..255
    pixels of frame-major RGB clips (channel t*3 + c uses mean[c], std[c])."""
    std = np.asarray(std, np.float32)
    return (np.tile(1 / (255 * std), num_frames).astype(np.float32),
            np.tile(np.asarray(mean, np.float32) / std, num_frames).astype(np.float32))
