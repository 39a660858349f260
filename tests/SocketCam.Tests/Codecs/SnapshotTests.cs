using System.Diagnostics;
using SocketCam.Codecs;
using SocketCam.Codecs.TurboJpeg;
using SocketCam.Media;

namespace SocketCam.Tests.Codecs;

public sealed class SnapshotTests : IDisposable
{
    // Parses the PNG with Python's zlib and struct only (no imaging library): checks signature, chunk CRCs and the
    // IHDR, undoes every PNG filter type, and compares with the expected RGB bytes.
    private const string PngCheckScript = """
        import struct, sys, zlib
        data = open(sys.argv[1], 'rb').read()
        expected = open(sys.argv[2], 'rb').read()
        assert data[:8] == b'\x89PNG\r\n\x1a\n', 'signature'
        pos, idat, ihdr, chunks = 8, b'', None, []
        while pos < len(data):
            length, kind = struct.unpack('>I4s', data[pos:pos + 8])
            body = data[pos + 8:pos + 8 + length]
            crc, = struct.unpack('>I', data[pos + 8 + length:pos + 12 + length])
            assert zlib.crc32(kind + body) & 0xffffffff == crc, 'crc ' + kind.decode()
            chunks.append(kind)
            if kind == b'IHDR': ihdr = struct.unpack('>IIBBBBB', body)
            if kind == b'IDAT': idat += body
            pos += 12 + length
        assert chunks[0] == b'IHDR' and chunks[-1] == b'IEND', chunks
        w, h, depth, ctype, comp, filt, inter = ihdr
        assert (depth, ctype, comp, filt, inter) == (8, 2, 0, 0, 0), ihdr
        raw = zlib.decompress(idat)
        stride = w * 3
        assert len(raw) == h * (stride + 1), 'idat length'
        out, prev = bytearray(), bytearray(stride)
        for y in range(h):
            ft = raw[y * (stride + 1)]
            line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
            for i in range(stride):
                a = line[i - 3] if i >= 3 else 0
                b = prev[i]
                c = prev[i - 3] if i >= 3 else 0
                if ft == 0: p = 0
                elif ft == 1: p = a
                elif ft == 2: p = b
                elif ft == 3: p = (a + b) // 2
                elif ft == 4:
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                else: raise Exception('filter %d' % ft)
                line[i] = (line[i] + p) & 255
            out += line
            prev = line
        print('OK %dx%d' % (w, h) if bytes(out) == expected else 'MISMATCH')
        """;

    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-snap-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData(1, 1)]
    [InlineData(37, 23)]
    [InlineData(160, 90)]
    public void PngIsReadBackExactly(int width, int height)
    {
        using VideoFrame frame = TestFrames.Pattern(width, height, index: 2);
        string path = Path.Combine(_directory, "frame.png");

        SnapshotWriter.Save(frame, path);

        // Expected pixels in RGB order.
        byte[] rgb = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
        {
            ReadOnlySpan<byte> row = frame.Row(y);
            for (int x = 0; x < width; x++)
            {
                int i = (y * width * 3) + (x * 3);
                rgb[i] = row[(x * 3) + 2];
                rgb[i + 1] = row[(x * 3) + 1];
                rgb[i + 2] = row[x * 3];
            }
        }

        string expected = Path.Combine(_directory, "expected.rgb");
        File.WriteAllBytes(expected, rgb);
        string script = Path.Combine(_directory, "check.py");
        File.WriteAllText(script, PngCheckScript);

        Assert.Equal($"OK {width}x{height}", RunPython(script, path, expected));
    }

    [Theory]
    [InlineData("shot.jpg")]
    [InlineData("shot.JPEG")]
    public void JpegSnapshotIsAValidJpegOfTheFrame(string name)
    {
        using VideoFrame frame = TestFrames.Pattern(320, 180);
        string path = Path.Combine(_directory, name);
        File.WriteAllText(path, "old contents are replaced");

        SnapshotWriter.Save(frame, path);

        byte[] jpeg = File.ReadAllBytes(path);
        Assert.True(JpegStructure.TryValidate(jpeg, out int w, out int h, out string? error), error);
        Assert.Equal((320, 180), (w, h));
        using var decoder = new JpegDecoder();
        using VideoFrame decoded = VideoFrame.Rent(320, 180);
        decoder.Decode(jpeg, 320, 180, decoded);
        Assert.True(TestFrames.MeanAbsoluteError(frame, decoded) < 6);

        // Only the snapshot remains: the temporary file was moved into place.
        Assert.Single(Directory.GetFiles(_directory));
    }

    [Fact]
    public void JpegSnapshotCanReuseAnEncoder()
    {
        using VideoFrame frame = TestFrames.Pattern(64, 64);
        using var encoder = new JpegEncoder(new JpegOptions { Quality = 20 });
        string path = Path.Combine(_directory, "a.jpg");

        SnapshotWriter.Save(frame, path, encoder);
        SnapshotWriter.Save(frame, path, encoder);

        Assert.True(JpegStructure.TryValidate(File.ReadAllBytes(path), out _, out _, out _));
        Assert.Throws<ArgumentException>(() => SnapshotWriter.Save(frame, path, new RawEncoder()));
    }

    [Theory]
    [InlineData("shot.bmp")]
    [InlineData("shot")]
    [InlineData("shot.jpg.txt")]
    public void OtherExtensionsAreRejected(string name)
    {
        using VideoFrame frame = TestFrames.Pattern(8, 8);

        var error = Assert.Throws<ArgumentException>(() => SnapshotWriter.Save(frame, Path.Combine(_directory, name)));
        Assert.StartsWith("Snapshot must end in .jpg, .jpeg or .png", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_directory));
    }

    [Fact]
    public void MissingDirectoryFailsWithoutLeavingFiles()
    {
        using VideoFrame frame = TestFrames.Pattern(8, 8);

        Assert.Throws<DirectoryNotFoundException>(() => SnapshotWriter.Save(frame, Path.Combine(_directory, "nope", "x.png")));
    }

    private static string RunPython(params string[] args)
    {
        var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, error);
        return output.Trim();
    }
}
