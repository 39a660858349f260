using Microsoft.Extensions.Logging;

namespace SocketCam.Recording;

/// <summary>Opens the right <see cref="IFrameRecorder"/> for a format.</summary>
internal static class FrameRecorders
{
    /// <summary>
    /// Creates <paramref name="path"/> for recording in <paramref name="format"/>. With <paramref name="overwrite"/> an
    /// existing file is replaced, otherwise an existing file is an <see cref="IOException"/>. A missing ffmpeg (for .mkv
    /// and .mp4) is a <see cref="Diagnostics.NativeDependencyException"/>.
    /// </summary>
    public static IFrameRecorder Create(RecordingFormat format, string path, RecordingOptions options, bool overwrite, ILogger logger) =>
        format == RecordingFormat.Mjpeg
            ? MjpegFileRecorder.Create(path, overwrite)
            : FfmpegMuxRecorder.Create(path, format, options, overwrite, logger);
}
