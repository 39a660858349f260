namespace SocketCam.Recording;

/// <summary>One whole JPEG to record, with its size and capture time (µs since the Unix epoch, on the hub's clock).</summary>
internal readonly record struct JpegFrame(ReadOnlyMemory<byte> Data, int Width, int Height, long Sequence, long CaptureMicros);
