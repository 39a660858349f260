# A hostile peer that speaks the seed tutorials' framing (struct.pack("Q", len(data)) + data) and sends a malicious or
# malformed payload instead of a pickled frame. SocketCam's seed reader must reject every one of them without running
# or instantiating anything.
#
# Payloads are made by real Python pickling wherever pickle can make them (a __reduce__ returning os.system, ...);
# the rest (INST, OBJ, MARK bombs, ...) are written opcode by opcode. Every payload that could run code makes it
# create MARKER: if that file ever exists, something unpickled it. (`pickle.loads` of those payloads does create it;
# the tests check that too, so the marker check means something.)
#
# usage:
#   evil_seed_server.py CASE MARKER [HOST] [PORT]   serve CASE to every client (port 0: the kernel picks one); prints
#                                                   "LISTENING AT: ('HOST', PORT)" and "connection N" per client;
#                                                   CASE "valid_then:NAME" sends a valid 64x48 frame first, then NAME
#   evil_seed_server.py --dump DIR MARKER           write DIR/CASE.stream (the bytes sent) for every case and
#                                                   DIR/CASE.pickle (the payload alone) for the one-pickle cases;
#                                                   prints "CASE KIND" per case
#   evil_seed_server.py --list                      print the case names
# After sending, the server keeps the connection open until the client closes it (the "closes" cases close at once).
import os
import pickle
import shlex
import socket
import struct
import subprocess
import sys
import threading

import numpy

_reconstruct = numpy.core.multiarray._reconstruct


class Reduce:
    """Pickles as `func(*args)`, optionally followed by BUILD with `state` (what a malicious __reduce__ returns)."""

    def __init__(self, func, args, state=None):
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        if self.state is None:
            return (self.func, self.args)
        return (self.func, self.args, self.state)


def lying_array(shape, raw, dtype="u1", fortran=False):
    """What ndarray.__reduce__ returns, with a shape and bytes that need not agree."""
    return Reduce(_reconstruct, (numpy.ndarray, (0,), b"b"), (1, shape, numpy.dtype(dtype), fortran, raw))


def frame(height=48, width=64, channels=3, dtype=numpy.uint8):
    shape = (height, width) if channels == 1 else (height, width, channels)
    return (numpy.arange(numpy.prod(shape), dtype=numpy.uint32) % 251).astype(dtype).reshape(shape)


def dumps(obj, protocol=4):
    return pickle.dumps(obj, protocol=protocol)


def cases(marker):
    touch = "touch " + shlex.quote(marker)
    q = marker.encode()
    short = lambda s: b"\x8c" + bytes([len(s)]) + s  # SHORT_BINUNICODE
    valid = dumps(frame())
    p = {}  # name -> one pickle (the stream is its framing)
    # Globals that run code.
    p["os_system"] = dumps(Reduce(os.system, (touch,)))
    p["os_system_protocol2"] = dumps(Reduce(os.system, (touch,)), protocol=2)
    p["subprocess_popen"] = dumps(Reduce(subprocess.Popen, (["touch", marker],)))
    p["subprocess_check_call"] = dumps(Reduce(subprocess.check_call, (["touch", marker],)))
    p["builtins_eval"] = dumps(Reduce(eval, ("open(%r, 'w').close()" % marker,)))
    p["builtins_exec"] = dumps(Reduce(exec, ("import os; os.system(%r)" % touch,)))
    # Code hidden where a frame's parts go: in the array's state, in an object array, as _reconstruct's class.
    p["os_system_in_state"] = dumps(lying_array((2, 2, 3), Reduce(os.system, (touch,))))
    p["object_array"] = dumps(numpy.array([Reduce(os.system, (touch,))], dtype=object))
    p["reconstruct_popen"] = dumps(Reduce(_reconstruct, (subprocess.Popen, (0,), b"b")))
    # Allowed names called the wrong way, or other numpy things.
    p["ndarray_call"] = dumps(Reduce(numpy.ndarray, ((480, 640, 3), numpy.uint8)))
    p["dtype_call"] = dumps(Reduce(numpy.dtype, ("V8", False, True)))
    p["numpy_scalar"] = dumps(numpy.float64(1.5))
    p["uint8_scalar"] = dumps(numpy.uint8(7))
    p["matrix"] = dumps(numpy.matrix(frame(4, 4, 1)))
    p["object_dtype_raw"] = dumps(lying_array((2, 2, 3), b"\0" * 96, dtype="O"))
    # Containers and opcodes a frame never uses.
    p["dict_frame"] = dumps({"frame": frame()})
    p["list_frame"] = dumps([frame()])
    p["inst_protocol0"] = b"(S'" + touch.encode() + b"'\nios\nsystem\n."
    p["inst_protocol2"] = b"\x80\x02(S'" + touch.encode() + b"'\nios\nsystem\n."
    p["obj_opcode"] = b"\x80\x02(cposix\nsystem\nX" + struct.pack("<I", len(touch)) + touch.encode() + b"o."
    p["newobj"] = b"\x80\x04" + short(b"numpy") + short(b"ndarray") + b"\x93K\x02K\x02K\x03\x87\x85\x81."
    p["persistent_id"] = b"\x80\x04" + short(b"evil") + b"Q."
    p["extension_code"] = b"\x80\x04\x82\x01."
    p["unknown_opcode"] = valid[:-1] + b"\xd0."
    p["protocol_1"] = dumps(frame(), protocol=1)
    p["protocol_6"] = b"\x80\x06" + valid[2:]
    p["out_of_band_buffer"] = pickle.dumps(frame(), protocol=5, buffer_callback=lambda b: False)
    p["bad_memo"] = b"\x80\x04h\x05."
    p["memo_index_huge"] = b"\x80\x04Nr\xff\xff\xff\x7f."
    # Frames that lie or are not 8-bit BGR / grayscale pictures.
    p["lying_shape_short"] = dumps(lying_array((480, 640, 3), b"short"))
    p["lying_shape_long"] = dumps(lying_array((2, 2, 3), b"\0" * 100))
    p["huge_shape"] = dumps(lying_array((2**31, 2**31, 3), b"abc"))
    p["negative_shape"] = dumps(lying_array((-48, 64, 3), b""))
    p["float64_frame"] = dumps(frame(dtype=numpy.float64))
    p["int8_frame"] = dumps(frame(dtype=numpy.int8))
    p["uint16_frame"] = dumps(frame(dtype=numpy.uint16))
    p["four_channels"] = dumps(frame(channels=4))
    p["two_channels"] = dumps(frame(channels=2))
    p["four_dims"] = dumps(frame().reshape(1, 48, 64, 3))
    p["one_dim"] = dumps(frame().reshape(-1))
    # Nesting and bombs.
    p["deep_tuple"] = b"\x80\x04)" + b"\x85" * 100000 + b"."
    p["nested_list"] = b"\x80\x04" + b"]" * 100000 + b"a" * 99999 + b"."
    p["mark_bomb"] = b"\x80\x04" + b"(" * 1000000 + b"."
    p["empty_pickle"] = b""
    p["stop_only"] = b"."

    streams = {name: (struct.pack("Q", len(data)) + data, False) for name, data in p.items()}
    # Stream-level lies: (bytes, close after sending)
    half = valid[: len(valid) // 2]
    streams["truncated_stream"] = (struct.pack("Q", len(valid)) + half, True)
    streams["truncated_pickle"] = (struct.pack("Q", len(half)) + half, False)
    streams["huge_length_63"] = (struct.pack("Q", 2**63) + valid, False)
    streams["huge_length_40"] = (struct.pack("Q", 2**40) + valid, False)
    streams["huge_length_max"] = (struct.pack("Q", 2**64 - 1) + valid, False)
    streams["short_prefix"] = (b"\x10\x00\x00", True)
    streams["valid_then_evil"] = (struct.pack("Q", len(valid)) + valid + streams["os_system"][0], False)
    return p, streams


def serve(case, marker, host, port):
    _, streams = cases(marker)
    if case.startswith("valid_then:"):
        valid = dumps(frame())
        data, close = streams[case[len("valid_then:"):]]
        data = struct.pack("Q", len(valid)) + valid + data
    else:
        data, close = streams[case]
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, port))
    server.listen(5)
    print("LISTENING AT:", server.getsockname(), flush=True)
    count = 0
    while True:
        client, addr = server.accept()
        count += 1
        print("connection", count, "from", addr, flush=True)
        threading.Thread(target=feed, args=(client, data, close, count), daemon=True).start()


def feed(client, data, close, count):
    try:
        client.sendall(data)
        print("sent", len(data), "bytes on connection", count, flush=True)
        if not close:
            client.settimeout(120)
            while client.recv(65536):  # whatever the peer sends is ignored; wait for it to close
                pass
    except OSError as e:
        print("connection", count, "ended:", e, flush=True)
    finally:
        client.close()
        print("closed connection", count, flush=True)


def main():
    if sys.argv[1] == "--list":
        for name in cases("/nonexistent")[1]:
            print(name)
    elif sys.argv[1] == "--dump":
        directory, marker = sys.argv[2], sys.argv[3]
        pickles, streams = cases(marker)
        for name, (data, close) in streams.items():
            with open(os.path.join(directory, name + ".stream"), "wb") as f:
                f.write(data)
            if name in pickles:
                with open(os.path.join(directory, name + ".pickle"), "wb") as f:
                    f.write(pickles[name])
            print(name, "pickle" if name in pickles else "stream", flush=True)
    else:
        case, marker = sys.argv[1], sys.argv[2]
        host = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
        port = int(sys.argv[4]) if len(sys.argv) > 4 else 0
        serve(case, marker, host, port)


if __name__ == "__main__":
    main()
