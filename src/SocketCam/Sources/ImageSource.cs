using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using SocketCam.Codecs;
using SocketCam.Codecs.TurboJpeg;
using SocketCam.Diagnostics;
using SocketCam.Ffmpeg;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Media;
using SocketCam.Protocol;

namespace SocketCam.Sources;

/// <summary>
/// A still image sent as a stream (seed 004's cv.imread). A JPEG file is sent byte for byte, never re-encoded; any other
/// format ffmpeg reads (PNG, BMP, WebP...) is decoded once to exact BGR pixels. Paced to --fps (default 30).
/// </summary>
internal sealed class ImageSource : IEncodedFrameSource
{
    /// <summary>Largest image file read (a 8192x8192 PNG is well under this).</summary>
    public const int MaxFileBytes = 256 * 1024 * 1024;

    private readonly string _path;
    private readonly FramePacer _pacer;
    private readonly byte[]? _jpeg;
    private VideoFrame? _pixels;
    private long _sequence;

    private ImageSource(string path, double fps, byte[]? jpeg, VideoFrame? pixels, int width, int height)
    {
        _path = path;
        _pacer = new FramePacer(fps);
        Fps = fps;
        _jpeg = jpeg;
        _pixels = pixels;
        Width = width;
        Height = height;
    }

    public string Description => string.Create(CultureInfo.InvariantCulture,
        $"image {Path.GetFileName(_path)} {Width}x{Height}{(Fps > 0 ? $" @ {Fps:0.##} fps" : "")}{(_jpeg is not null ? ", JPEG sent as is" : "")}");

    public int Width { get; }

    public int Height { get; }

    public double Fps { get; }

    public CodecId? ProvidedCodec => _jpeg is not null ? CodecId.Jpeg : null;

    public static async Task<ImageSource> OpenAsync(string path, SourceOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        double fps = options.Fps ?? 30;
        var info = new FileInfo(path);
        if (info.Length > MaxFileBytes)
        {
            throw new UserFacingException($"image:{path} is {info.Length} bytes; the limit is {MaxFileBytes}.");
        }

        if (options.Size is null)
        {
            byte[] bytes = await File.ReadAllBytesAsync(path, cancellationToken);
            if (JpegStructure.TryValidate(bytes, out int width, out int height, out _))
            {
                return new ImageSource(path, fps, bytes, null, width, height);
            }
        }

        VideoFrame pixels = await DecodeWithFfmpegAsync(path, options.Size, logger, cancellationToken);
        return new ImageSource(path, fps, null, pixels, pixels.Width, pixels.Height);
    }

    public async ValueTask<MediaFrame?> ReadEncodedAsync(CancellationToken cancellationToken)
    {
        byte[] jpeg = _jpeg ?? throw new InvalidOperationException("This image is not a JPEG: use ReadFrameAsync.");
        await _pacer.WaitAsync(cancellationToken);
        MediaFrame frame = MediaFrame.Rent(jpeg.Length);
        jpeg.CopyTo(frame.WritableData);
        frame.Complete(new VideoFrameHeader(CodecId.Jpeg, Width, Height, _sequence++, Clock.NowMicros()), jpeg.Length);
        return frame;
    }

    public async ValueTask<VideoFrame?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        if (_pixels is null)
        {
            // A JPEG asked for as pixels (raw codec): decode once.
            _pixels = VideoFrame.Rent(Width, Height);
            using var decoder = new JpegDecoder();
            decoder.Decode(_jpeg, Width, Height, _pixels);
        }

        await _pacer.WaitAsync(cancellationToken);
        VideoFrame frame = VideoFrame.Rent(Width, Height);
        _pixels.Pixels.CopyTo(frame.Pixels);
        frame.Sequence = _sequence++;
        frame.CaptureMicros = Clock.NowMicros();
        return frame;
    }

    public ValueTask DisposeAsync()
    {
        _pixels?.Dispose();
        _pixels = null;
        return ValueTask.CompletedTask;
    }

    /// <summary>ffmpeg decodes the image to PPM (exact 8-bit RGB with a tiny header); we swap it to BGR.</summary>
    private static async Task<VideoFrame> DecodeWithFfmpegAsync(string path, FrameSize? size, ILogger logger, CancellationToken cancellationToken)
    {
        var args = new List<string> { "-loglevel", "error", "-i", path, "-frames:v", "1" };
        if (size is { } s)
        {
            args.AddRange(["-vf", $"scale={s.Width}:{s.Height}"]);
        }

        args.AddRange(["-f", "image2pipe", "-c:v", "ppm", "-pix_fmt", "rgb24", "pipe:1"]);
        await using FfmpegProcess ffmpeg = FfmpegProcess.Start(args, logger: logger);
        VideoFrame? frame = await ReadPpmAsync(ffmpeg.Output, cancellationToken);
        if (frame is null)
        {
            await ffmpeg.WaitForExitAsync(cancellationToken);
            throw new UserFacingException($"cannot read image:{path}: {ffmpeg.DescribeExit()}");
        }

        return frame;
    }

    /// <summary>Reads one binary PPM (P6, maxval 255) as BGR; null if the stream ends first. Header fields are capped.</summary>
    internal static async Task<VideoFrame?> ReadPpmAsync(Stream input, CancellationToken cancellationToken)
    {
        var fields = new List<string>(4);
        var token = new StringBuilder();
        byte[] one = new byte[1];
        int headerBytes = 0;
        while (fields.Count < 4)
        {
            if (await input.ReadAsync(one, cancellationToken) == 0)
            {
                return null;
            }

            if (++headerBytes > 64)
            {
                throw new InvalidDataException("The PPM header is too long.");
            }

            if (one[0] is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t')
            {
                if (token.Length > 0)
                {
                    fields.Add(token.ToString());
                    token.Clear();
                }
            }
            else
            {
                token.Append((char)one[0]);
            }
        }

        if (fields[0] != "P6" || fields[3] != "255"
            || !int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out int width)
            || !int.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out int height)
            || width is < 1 or > FrameLimits.MaxDimension || height is < 1 or > FrameLimits.MaxDimension)
        {
            throw new InvalidDataException("ffmpeg's output is not an 8-bit PPM of a supported size.");
        }

        VideoFrame frame = VideoFrame.Rent(width, height);
        try
        {
            Memory<byte> pixels = frame.Buffer.AsMemory(frame.Offset, frame.ByteLength);
            if (await input.ReadAtLeastAsync(pixels, pixels.Length, throwOnEndOfStream: false, cancellationToken) < pixels.Length)
            {
                frame.Dispose();
                return null;
            }

            Span<byte> p = pixels.Span;
            for (int i = 0; i < p.Length; i += 3)
            {
                (p[i], p[i + 2]) = (p[i + 2], p[i]);
            }

            return frame;
        }
        catch
        {
            frame.Dispose();
            throw;
        }
    }
}
