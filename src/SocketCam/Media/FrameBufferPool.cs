using System.Buffers;

namespace SocketCam.Media;

/// <summary>
/// The pool for frame-sized arrays. Frames are rented on the capture or receive thread and returned on whichever
/// viewer's sender finishes last; ArrayPool.Shared keeps per-thread and per-core caches that miss in that pattern
/// (and a miss is a new multi-megabyte array), so frames use a shared, lock-based pool instead.
/// </summary>
internal static class FrameBufferPool
{
    /// <summary>Arrays up to 64 MiB (8K raw is ~100 MB and is simply not pooled), 32 per size class.</summary>
    public static readonly ArrayPool<byte> Shared = ArrayPool<byte>.Create(64 * 1024 * 1024, 32);
}
