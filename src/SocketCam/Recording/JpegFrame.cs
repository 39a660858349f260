namespace SocketCam.Recording;

/// <summary>One whole JPEG to record, with its size and capture time (µs since the Unix epoch, on the hub's clock).</summary>
internal readonly record struct JpegFrame(ReadOnlyMemory<byte> Data, int Width, int Height, long Sequence, long CaptureMicros);

/// <summary>
/// One Opus packet to record: <paramref name="Samples"/> samples per channel at 48 kHz, captured at
/// <paramref name="CaptureMicros"/> (µs since the Unix epoch, on the hub's clock: the same clock as the video's).
/// </summary>
internal readonly record struct OpusPacket(ReadOnlyMemory<byte> Data, int Samples, long Sequence, long CaptureMicros);
