# Writes real numpy pickles for the NumpyPickle tests (not a seed program: a helper that makes test data).
#
# usage: make_numpy_pickles.py OUTDIR HxWxC|HxW ...
# For each shape, a random uint8 array (seeded by the shape, so runs agree) and, in OUTDIR:
#   NAME.raw            arr.tobytes()
#   NAME.default        pickle.dumps(arr)                     (what the seed programs send)
#   NAME.p2 ... NAME.p5 pickle.dumps(arr, protocol=P)
#   NAME.np2.p2 ... p5  the same pickles as numpy 2 writes them (module numpy._core instead of numpy.core), made by
#                       re-emitting the opcodes with the new names and fixing every length and FRAME size; each is
#                       checked to load back to the same array with numpy._core aliased to numpy.core.
# NAME is the shape argument. Prints "NAME OK" per shape.
import os
import pickle
import pickletools
import struct
import sys
import zlib

import numpy


def numpy2_names(data):
    """The pickle with every 'numpy.core' module name spelled 'numpy._core' (numpy 2.x), lengths and frames fixed."""
    ops = list(pickletools.genops(data))
    out = bytearray()
    where = {}  # original offset of an opcode -> offset in out
    frames = []  # (offset of the FRAME length in out, original end of the frame)
    for i, (op, arg, pos) in enumerate(ops):
        end = ops[i + 1][2] if i + 1 < len(ops) else len(data)
        where[pos] = len(out)
        if op.name == "FRAME":
            frames.append((len(out) + 1, end + arg))
            out += data[pos:end]
        elif op.name in ("SHORT_BINUNICODE", "BINUNICODE") and arg.startswith("numpy.core"):
            text = arg.replace("numpy.core", "numpy._core", 1).encode()
            out += (b"\x8c" + bytes([len(text)])) if op.name == "SHORT_BINUNICODE" else (b"X" + struct.pack("<I", len(text)))
            out += text
        elif op.name == "GLOBAL" and arg.startswith("numpy.core"):
            module, name = arg.split(" ")
            out += b"c" + module.replace("numpy.core", "numpy._core", 1).encode() + b"\n" + name.encode() + b"\n"
        else:
            out += data[pos:end]
    where[len(data)] = len(out)
    for length_at, original_end in frames:
        size = where[original_end] - (length_at + 8)
        out[length_at:length_at + 8] = struct.pack("<Q", size)
    return bytes(out)


def load_as_numpy2(data):
    saved = {name: sys.modules.get(name) for name in ("numpy._core", "numpy._core.multiarray", "numpy._core.numeric")}
    sys.modules["numpy._core"] = numpy.core
    sys.modules["numpy._core.multiarray"] = numpy.core.multiarray
    sys.modules["numpy._core.numeric"] = numpy.core.numeric
    try:
        return pickle.loads(data)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def main():
    outdir = sys.argv[1]
    for name in sys.argv[2:]:
        shape = tuple(int(n) for n in name.split("x"))
        rng = numpy.random.default_rng(zlib.crc32(name.encode()))
        arr = rng.integers(0, 256, size=shape, dtype=numpy.uint8)
        files = {"raw": arr.tobytes(), "default": pickle.dumps(arr)}
        for protocol in (2, 3, 4, 5):
            data = pickle.dumps(arr, protocol=protocol)
            assert numpy.array_equal(pickle.loads(data), arr)
            files["p%d" % protocol] = data
            renamed = numpy2_names(data)
            assert b"numpy.core" not in renamed and b"numpy._core" in renamed, name
            back = load_as_numpy2(renamed)
            assert back.dtype == numpy.uint8 and numpy.array_equal(back, arr), name
            files["np2.p%d" % protocol] = renamed
        for suffix, data in files.items():
            with open(os.path.join(outdir, name + "." + suffix), "wb") as f:
                f.write(data)
        print(name, "OK", flush=True)


if __name__ == "__main__":
    main()
