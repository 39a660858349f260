namespace SocketCam.Udp;

/// <summary>
/// The storage of frames in reassembly: fixed-size chunks of <see cref="Fragments"/> fragment payloads, taken only when a
/// fragment of that chunk arrives, so a frame whose header claims 16 MiB costs one chunk per chunk that has data. Freed
/// chunks are kept for reuse up to a small fixed number (a steady stream never allocates); the rest go to the GC, so
/// memory taken during a flood is given back once it ends (a general pool would keep it).
/// </summary>
internal static class ReassemblyChunks
{
    /// <summary>Fragments per chunk: 32 × 1124 = 35,968 bytes, below the large-object heap's threshold.</summary>
    public const int Fragments = 32;

    public const int Bytes = Fragments * UdpWire.FragmentPayload;

    /// <summary>Chunks kept for reuse: ~4.7 MB, enough for a few 1080p JPEG streams.</summary>
    private const int MaxRetained = 128;

    private static readonly Stack<byte[]> Free = new(MaxRetained);
    private static readonly Lock FreeLock = new();

    public static byte[] Rent()
    {
        lock (FreeLock)
        {
            if (Free.TryPop(out byte[]? chunk))
            {
                return chunk;
            }
        }

        return GC.AllocateUninitializedArray<byte>(Bytes);
    }

    public static void Return(byte[] chunk)
    {
        if (chunk.Length != Bytes)
        {
            return;
        }

        lock (FreeLock)
        {
            if (Free.Count < MaxRetained)
            {
                Free.Push(chunk);
            }
        }
    }

    /// <summary>Chunks a frame of <paramref name="fragmentCount"/> fragments (data and parity) spans.</summary>
    public static int CountFor(int fragmentCount) => (fragmentCount + Fragments - 1) / Fragments;
}
