using System.Globalization;
using System.Text;
using SocketCam.Media;

namespace SocketCam.Ffmpeg;

/// <summary>What a YUV4MPEG2 stream header says.</summary>
internal sealed record Y4mHeader(int Width, int Height, double Fps, bool FullRange);

/// <summary>
/// Reads ffmpeg's `-f yuv4mpegpipe -pix_fmt yuv420p` output: a header line with the size, rate and colour range, then
/// "FRAME" lines each followed by exactly one I420 picture, read straight into a pooled frame (no intermediate copy).
/// Every line is capped, and only 4:2:0 is accepted, so a confused ffmpeg cannot make us allocate or misalign.
/// </summary>
internal sealed class Y4mReader
{
    private const int MaxHeaderLine = 512;
    private const int MaxFrameLine = 256;
    private static readonly byte[] Magic = "YUV4MPEG2 "u8.ToArray();
    private static readonly byte[] FrameTag = "FRAME"u8.ToArray();

    private readonly Stream _input;
    private readonly byte[] _line = new byte[MaxHeaderLine];

    private Y4mReader(Stream input, Y4mHeader header)
    {
        _input = input;
        Header = header;
    }

    public Y4mHeader Header { get; }

    /// <summary>Reads the stream header; null when the stream ends before it (ffmpeg failed to start).</summary>
    public static async ValueTask<Y4mReader?> OpenAsync(Stream input, CancellationToken cancellationToken)
    {
        byte[] line = new byte[MaxHeaderLine];
        int length = await ReadLineAsync(input, line, cancellationToken);
        if (length < 0)
        {
            return null;
        }

        return new Y4mReader(input, ParseHeader(line.AsSpan(0, length)));
    }

    public static Y4mHeader ParseHeader(ReadOnlySpan<byte> line)
    {
        if (!line.StartsWith(Magic))
        {
            throw new InvalidDataException("ffmpeg's output is not a YUV4MPEG2 stream.");
        }

        int width = 0;
        int height = 0;
        double fps = 0;
        bool fullRange = false;
        string text = Encoding.ASCII.GetString(line[Magic.Length..]);
        foreach (string token in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            string value = token[1..];
            switch (token[0])
            {
                case 'W':
                    width = ParseDimension(value);
                    break;
                case 'H':
                    height = ParseDimension(value);
                    break;
                case 'F':
                    string[] parts = value.Split(':');
                    if (parts.Length == 2 && double.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out double num)
                        && double.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out double den) && den > 0)
                    {
                        fps = num / den;
                    }

                    break;
                case 'C':
                    if (!value.StartsWith("420", StringComparison.Ordinal))
                    {
                        throw new InvalidDataException($"YUV4MPEG2 colour space C{value} is not 4:2:0.");
                    }

                    break;
                case 'X':
                    if (value.Equals("COLORRANGE=FULL", StringComparison.OrdinalIgnoreCase))
                    {
                        fullRange = true;
                    }

                    break;
            }
        }

        if (width == 0 || height == 0)
        {
            throw new InvalidDataException("The YUV4MPEG2 header gives no frame size.");
        }

        return new Y4mHeader(width, height, fps, fullRange);
    }

    /// <summary>Reads the next picture into a new pooled I420 frame; null at the end of the stream.</summary>
    public async ValueTask<VideoFrame?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        int length = await ReadLineAsync(_input, _line.AsMemory(0, MaxFrameLine), cancellationToken);
        if (length < 0)
        {
            return null;
        }

        if (!_line.AsSpan(0, length).StartsWith(FrameTag))
        {
            throw new InvalidDataException("Lost sync in ffmpeg's YUV4MPEG2 output (no FRAME line).");
        }

        VideoFrame frame = VideoFrame.RentI420(Header.Width, Header.Height);
        try
        {
            int read = await _input.ReadAtLeastAsync(frame.Buffer.AsMemory(frame.Offset, frame.ByteLength), frame.ByteLength, throwOnEndOfStream: false, cancellationToken);
            if (read < frame.ByteLength)
            {
                frame.Dispose();
                return null; // ffmpeg stopped mid-picture: the caller treats it as the end of the stream.
            }

            if (!Header.FullRange)
            {
                YuvRange.ExpandToFullRange(frame);
            }

            return frame;
        }
        catch
        {
            frame.Dispose();
            throw;
        }
    }

    /// <summary>Reads up to and excluding '\n'; -1 at a clean end of stream; throws when the line exceeds the buffer.</summary>
    private static async ValueTask<int> ReadLineAsync(Stream input, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        // Lines are short ("FRAME\n"): read the 6 bytes that a bare FRAME line has at once, then byte by byte.
        int length = 0;
        int first = await input.ReadAtLeastAsync(buffer[..Math.Min(6, buffer.Length)], Math.Min(6, buffer.Length), throwOnEndOfStream: false, cancellationToken);
        if (first == 0)
        {
            return -1;
        }

        int newline = buffer.Span[..first].IndexOf((byte)'\n');
        if (newline >= 0)
        {
            if (newline != first - 1)
            {
                throw new InvalidDataException("Unexpected data after a YUV4MPEG2 line.");
            }

            return newline;
        }

        length = first;
        while (true)
        {
            if (length == buffer.Length)
            {
                throw new InvalidDataException("A YUV4MPEG2 header line is too long.");
            }

            int n = await input.ReadAsync(buffer.Slice(length, 1), cancellationToken);
            if (n == 0)
            {
                return -1;
            }

            if (buffer.Span[length] == (byte)'\n')
            {
                return length;
            }

            length++;
        }
    }

    private static int ParseDimension(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value is >= 1 and <= FrameLimits.MaxDimension
            ? value
            : throw new InvalidDataException($"YUV4MPEG2 size '{text}' is outside 1..{FrameLimits.MaxDimension}.");
}
