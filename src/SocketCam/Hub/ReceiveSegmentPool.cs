using System.Buffers;

using SocketCam.Rooms;

namespace SocketCam.Hub;

/// <summary>
/// The memory of the hub's receive pipes (<see cref="HubConnection"/>): segments of at most
/// <see cref="IncomingFrameGuard.ReadSize"/> from a pool of the hub's own that keeps only a few spare ones. With the shared
/// pool, a burst of frames in flight left its segments parked in ArrayPool&lt;byte&gt;.Shared (up to 32 per core, trimmed only
/// a minute later and only at a gen-2 collection), so the memory stayed after the peers left; here whatever is not kept is
/// garbage that the collection after the burst (<see cref="Limits.MemoryReclaimer"/>) gives back. Thread-safe.
/// </summary>
internal sealed class ReceiveSegmentPool : MemoryPool<byte>
{
    /// <summary>Spare segments kept per size: enough for the steady traffic of a busy hub (one read each).</summary>
    private const int KeptPerSize = 16;

    public static readonly ReceiveSegmentPool Instance = new();

    private readonly ArrayPool<byte> _arrays = ArrayPool<byte>.Create(IncomingFrameGuard.ReadSize, KeptPerSize);

    private ReceiveSegmentPool()
    {
    }

    public override int MaxBufferSize => IncomingFrameGuard.ReadSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        // A larger request (none is expected) gets a fresh array that is not kept.
        return new Segment(_arrays, _arrays.Rent(minBufferSize <= 0 ? 4096 : minBufferSize));
    }

    protected override void Dispose(bool disposing)
    {
        // Shared for the process's lifetime.
    }

    private sealed class Segment(ArrayPool<byte> pool, byte[] array) : IMemoryOwner<byte>
    {
        private byte[]? _array = array;

        public Memory<byte> Memory => _array ?? throw new ObjectDisposedException(nameof(Segment));

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _array, null) is { } returned)
            {
                pool.Return(returned);
            }
        }
    }
}
