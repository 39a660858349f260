using System.Buffers;
using SocketCam.Codecs.TurboJpeg;
using SocketCam.Media;

namespace SocketCam.Codecs;

/// <summary>Saves one frame to a .jpg/.jpeg/.png file, atomically (a reader never sees half a file).</summary>
internal static class SnapshotWriter
{
    /// <summary>JPEG quality for snapshots: higher than streaming, since a still is looked at closely and written once.</summary>
    public const int SnapshotJpegQuality = 90;

    /// <param name="jpegEncoder">Optional JPEG encoder to reuse (keeps its own quality); by default one at quality 90.</param>
    public static void Save(VideoFrame frame, string path, IFrameEncoder? jpegEncoder = null)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);

        string extension = Path.GetExtension(path);
        bool jpeg = extension.Equals(".jpg", StringComparison.OrdinalIgnoreCase) || extension.Equals(".jpeg", StringComparison.OrdinalIgnoreCase);
        bool png = extension.Equals(".png", StringComparison.OrdinalIgnoreCase);
        if (!jpeg && !png)
        {
            throw new ArgumentException("Snapshot must end in .jpg, .jpeg or .png", nameof(path));
        }

        if (jpegEncoder is not null && jpegEncoder.Codec != CodecId.Jpeg)
        {
            throw new ArgumentException("The snapshot encoder must be a JPEG encoder.", nameof(jpegEncoder));
        }

        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath) ?? ".";
        string temp = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            if (jpeg)
            {
                WriteJpeg(frame, temp, jpegEncoder);
            }
            else
            {
                PngWriter.Save(frame, temp);
            }

            File.Move(temp, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    private static void WriteJpeg(VideoFrame frame, string path, IFrameEncoder? encoder)
    {
        IFrameEncoder? owned = null;
        encoder ??= owned = new JpegEncoder(new JpegOptions { Quality = SnapshotJpegQuality });
        try
        {
            byte[] buffer = ArrayPool<byte>.Shared.Rent(encoder.MaxEncodedSize(frame.Width, frame.Height));
            try
            {
                int length = encoder.Encode(frame, buffer);
                using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1);
                file.Write(buffer, 0, length);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        finally
        {
            owned?.Dispose();
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
