#!/usr/bin/python3
"""Read a safetensors file with nothing but json, struct, hashlib and torch.

PyTorch 1.13 ships no safetensors package, so this script proves that the
files written by wakesleep's checkpoint package have the standard layout:

    8 bytes   little-endian uint64 N, the header length
    N bytes   JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}}
    rest      data section; each tensor at [begin, end) of it, little-endian

Usage: /usr/bin/python3 scripts/read_safetensors.py FILE

Prints one JSON object: every tensor's dtype, shape and flattened values, the
metadata, and "sha256": "ok" | "absent". Exits with status 1 if the
"wakesleep.sha256" metadata does not match the data section.
"""
import hashlib
import json
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "U8": torch.uint8}


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    data = blob[8 + n :]
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        if end == begin:  # torch.frombuffer refuses empty buffers
            t = torch.empty(info["shape"], dtype=dtype)
        else:
            t = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype).reshape(info["shape"])
        tensors[name] = t
    return tensors, meta, data


def main():
    tensors, meta, data = read(sys.argv[1])
    want = meta.get("wakesleep.sha256")
    status = "absent"
    if want is not None:
        status = "ok" if hashlib.sha256(data).hexdigest() == want else "mismatch"
    out = {
        "tensors": {
            name: {"dtype": str(t.dtype), "shape": list(t.shape), "values": t.flatten().tolist()}
            for name, t in sorted(tensors.items())
        },
        "metadata": meta,
        "sha256": status,
    }
    print(json.dumps(out, sort_keys=True))
    return 1 if status == "mismatch" else 0


if __name__ == "__main__":
    sys.exit(main())
