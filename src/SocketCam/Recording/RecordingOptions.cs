using SocketCam.Codecs;

namespace SocketCam.Recording;

/// <summary>
/// Settings of a recording. The defaults suit a LAN camera recorded to a local disk. Public so that a host can pass them
/// through (<see cref="RecordingDirectoryOptions.Files"/>); the settings themselves are the CLI's to set.
/// </summary>
public sealed record RecordingOptions
{
    /// <summary>
    /// Frames the recorder may hold before the source has to wait for it; default 120 (4 s at 30 fps), enough to ride out
    /// a slow disk or ffmpeg starting a new file without slowing the source at all.
    /// </summary>
    internal int MaxQueuedFrames { get; init; } = 120;

    /// <summary>
    /// Picture bytes the recorder may hold before the source has to wait; default 64 MiB (raw 720p frames are 2.7 MB each).
    /// A single frame larger than this still goes in when the queue is empty.
    /// </summary>
    internal long MaxQueuedBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>How raw (BGR) frames are compressed, since recordings hold JPEGs; default quality 90, 4:2:0.</summary>
    internal JpegOptions Jpeg { get; init; } = new() { Quality = 90 };

    /// <summary>
    /// A directory recording (serve --record) starts a new file before one would grow past this many bytes; default 1 GiB,
    /// 0 = no limit. Exact for .mjpeg; for .mkv and .mp4 ffmpeg's output size is checked a few times a second.
    /// </summary>
    internal long MaxFileBytes { get; init; } = 1L << 30;

    /// <summary>
    /// A directory recording starts a new file once one spans this much capture time; default 1 hour, zero = no limit.
    /// </summary>
    internal TimeSpan MaxFileDuration { get; init; } = TimeSpan.FromHours(1);

    /// <summary>
    /// A directory recording stops once the directory's files (earlier runs' included) would pass this many bytes; default
    /// 0 = no cap (<see cref="MinFreeBytes"/> still protects the disk). Resumes when files are deleted.
    /// </summary>
    internal long MaxDirectoryBytes { get; init; }

    /// <summary>
    /// A directory recording stops while the disk it writes to has less than this free; default 1 GiB, 0 = no margin.
    /// Resumes when space is freed.
    /// </summary>
    internal long MinFreeBytes { get; init; } = 1L << 30;

    /// <summary>libx264 preset for .mp4; default veryfast (a 720p stream costs a fraction of a core).</summary>
    internal string X264Preset { get; init; } = "veryfast";

    /// <summary>libx264 constant rate factor for .mp4 (lower is better and bigger); default 23, x264's own default.</summary>
    internal int X264Crf { get; init; } = 23;

    /// <summary>
    /// How long finishing a recording may take (writing what is queued, ffmpeg writing its index) before it is cut
    /// short; default 30 s.
    /// </summary>
    internal TimeSpan FinishTimeout { get; init; } = TimeSpan.FromSeconds(30);
}
