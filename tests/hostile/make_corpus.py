"""Writes the hostile-input corpus (tests/hostile.rs runs the binary on every file here). Re-run to regenerate:

    python tests/hostile/make_corpus.py

Every file is small and made from scratch or from a committed test crop; none comes from outside the repo.
"""
import os
import struct
import zlib

import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")


def put(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def main():
    png = open(os.path.join(DATA, "val_bridge.png"), "rb").read()
    put("empty.png", b"")
    put("truncated.png", png[: len(png) // 3])
    put("text.png", b"this is a text file with a .png name\n")
    # a valid PNG signature and IHDR (correct CRC) that claims 99999 x 99999 pixels, then one empty IDAT
    ihdr = struct.pack(">IIBBBBB", 99999, 99999, 8, 2, 0, 0, 0)
    put("huge.png", b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"")) +
        png_chunk(b"IEND", b""))
    # a JPEG whose frame header claims 60000 x 60000
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 60000, 60000, 1) + b"\x01\x11\x00"
    put("huge.jpg", b"\xff\xd8" + sof + b"\xff\xd9")
    put("truncated.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01")
    put("huge.ppm", b"P6\n99999999 99999999\n255\n" + b"\x00" * 64)
    put("negative.ppm", b"P6\n-5 4\n255\n" + b"\x00" * 64)
    put("short.ppm", b"P6\n8 8\n255\n" + b"\x00" * 10)
    # Y4M streams
    put("garbage.y4m", b"\x00\x01\x02garbage\n")
    put("w0.y4m", b"YUV4MPEG2 W0 H4 F25:1\nFRAME\n")
    put("wneg.y4m", b"YUV4MPEG2 W-5 H4 F25:1\nFRAME\n")
    put("whuge.y4m", b"YUV4MPEG2 W99999999 H99999999 F25:1\nFRAME\n")
    put("pixels.y4m", b"YUV4MPEG2 W8192 H4096 F25:1 C420jpeg\nFRAME\n" + b"\x80" * 64)  # 33.5 MP, 50 MB frames
    put("nolf.y4m", b"YUV4MPEG2 W4 H4 " + b"F" * 5000)
    put("noframe.y4m", b"YUV4MPEG2 W4 H2 F25:1 C420jpeg\nFRAMX\n" + b"\x80" * 12)
    put("shortplane.y4m", b"YUV4MPEG2 W4 H2 F25:1 C420jpeg\nFRAME\n" + b"\x80" * 12 + b"FRAME\n" + b"\x80" * 5)
    put("badchroma.y4m", b"YUV4MPEG2 W4 H2 C411\nFRAME\n" + b"\x80" * 12)
    put("rgb24_short.raw", b"\x10" * (16 * 8 * 3 + 7))
    # ONNX files: tiny graphs (an Identity or an Add), so the corpus stays small
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "H", "W"])
    t = helper.make_tensor_value_info("t", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("x0", TensorProto.FLOAT, [1, 3, "H", "W"])
    meta = {"coldframe.format": "1", "name": "hostile", "task": "deblur", "T": "4",
            "sigma_schedule": "0,1,2,3,4", "stride": "8", "precision": "f32", "default_steps": "1",
            "macs_per_pixel": "0"}

    def model(nodes, inputs, props, inits=()):
        g = helper.make_graph(nodes, "g", inputs, [y], initializer=list(inits))
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
        for k, v in props.items():
            e = m.metadata_props.add()
            e.key, e.value = k, v
        return m.SerializeToString()

    ident = [helper.make_node("Identity", ["image"], ["x0"])]
    put("no_metadata.onnx", model(ident, [x, t], {}))
    put("one_input.onnx", model(ident, [x], meta))
    put("wrong_task.onnx", model(ident, [x, t], {**meta, "task": "denoise"}))
    put("bad_schedule.onnx", model(ident, [x, t], {**meta, "sigma_schedule": "0,2,1,3,4"}))
    put("future_format.onnx", model(ident, [x, t], {**meta, "coldframe.format": "9"}))
    # an initializer stored in an external file that is not there
    w = helper.make_tensor("w", TensorProto.FLOAT, [1], [0.0])
    w.ClearField("float_data")
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "weights.bin"), ("offset", "0"), ("length", "4")):
        e = w.external_data.add()
        e.key, e.value = k, v
    add = [helper.make_node("Add", ["image", "w"], ["x0"])]
    put("external_data.onnx", model(add, [x, t], meta, [w]))
    put("junk.onnx", b"not protobuf at all \xff\xfe")
    put("empty.onnx", b"")


if __name__ == "__main__":
    main()
