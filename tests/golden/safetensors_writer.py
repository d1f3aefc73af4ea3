"""Writes safetensors files for the golden-value generators in tests/golden/.

The generators run by hand with Debian's python3-torch (/usr/bin/python3),
which has no `safetensors` package; the format is simple enough to write here:
8-byte little-endian header length, a JSON header padded with spaces to a
multiple of 8, then the raw little-endian float32 data.

    from safetensors_writer import write
    write("tests/golden/x.safetensors", {"name": tensor_or_array, ...}, {"torch": "1.13"})
"""

import json
import struct

import numpy as np


def write(path, tensors, metadata=None):
    """tensors: name -> torch tensor or numpy array (stored as F32, in the
    given order); metadata: str -> str."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, value in tensors.items():
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        array = np.ascontiguousarray(np.asarray(value, dtype=np.float32))
        data = array.astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
