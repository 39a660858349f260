namespace SocketCam.Recording;

/// <summary>
/// Recording every room of a hub into one directory (`serve --record DIR`, <see cref="RecordingDirectory"/>): where, in
/// which format, and how each room's files are written, rotated and capped.
/// </summary>
public sealed record RecordingDirectoryOptions
{
    /// <summary>The directory, created if missing; no default (required). Files are named ROOM-yyyyMMdd-HHmmss.EXT (UTC).</summary>
    public required string Directory { get; init; }

    /// <summary>The files' format (`--record-format`); default <see cref="RecordingFormat.Mjpeg"/> (mkv and mp4 need ffmpeg).</summary>
    public RecordingFormat Format { get; init; } = RecordingFormat.Mjpeg;

    /// <summary>
    /// How each file is written, rotated and capped (<see cref="RecordingOptions"/>); default a new file every 1 GiB or 1 hour,
    /// no cap on the directory, 1 GiB kept free on the disk.
    /// </summary>
    public RecordingOptions Files { get; init; } = new();
}
