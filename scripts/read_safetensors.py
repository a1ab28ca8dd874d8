#!/usr/bin/python3
"""Read a safetensors file with nothing but the standard library and torch.

PyTorch 1.13 ships no safetensors package, so this script, through the
reader of interop/wakesleep_torch.py, proves that the files written by
wakesleep's checkpoint package have the standard layout:

    8 bytes   little-endian uint64 N, the header length
    N bytes   JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}}
    rest      data section; each tensor at [begin, end) of it, little-endian

Usage: /usr/bin/python3 scripts/read_safetensors.py FILE

Prints one JSON object: every tensor's dtype, shape and flattened values, the
metadata, and "sha256": "ok" | "absent". Exits with status 1 if the
"wakesleep.sha256" metadata does not match the data section.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
import wakesleep_torch as ws  # noqa: E402  (the reader PyTorch users load runs with)


def main():
    tensors, meta = ws.read_safetensors(sys.argv[1], verify=False)
    status = "absent"
    if ws.CHECKSUM_KEY in meta:
        try:
            ws.read_safetensors(sys.argv[1], verify=True)
            status = "ok"
        except ValueError:
            status = "mismatch"
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
