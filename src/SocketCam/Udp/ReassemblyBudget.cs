using SocketCam.Limits;

namespace SocketCam.Udp;

/// <summary>
/// The bytes one session's <see cref="FrameReassembler"/> may hold: its own cap, and on the hub also the shared
/// <see cref="ByteBudget"/> (per address and in total), so that frames claiming a large size cost only what has arrived
/// and one address cannot take the memory every session shares. Not thread-safe (the reassembler's caller serialises);
/// <see cref="ReleaseAll"/> gives back whatever is still held when the session ends.
/// </summary>
internal sealed class ReassemblyBudget(long sessionCap, ByteBudget? shared = null, AddressKey? address = null)
{
    /// <summary>No shared budget, no session cap: for a client's own receiver and the tests that do not count.</summary>
    public static ReassemblyBudget Unlimited => new(long.MaxValue);

    public long SessionCap { get; } = sessionCap;

    /// <summary>Bytes this session holds now.</summary>
    public long InUse { get; private set; }

    /// <summary>The most this session ever held at once.</summary>
    public long Peak { get; private set; }

    public bool TryReserve(long bytes)
    {
        if (bytes > SessionCap - InUse || (shared is not null && !shared.TryReserve(address, bytes)))
        {
            return false;
        }

        InUse += bytes;
        Peak = Math.Max(Peak, InUse);
        return true;
    }

    public void Release(long bytes)
    {
        bytes = Math.Min(bytes, InUse);
        InUse -= bytes;
        shared?.Release(address, bytes);
    }

    public void ReleaseAll() => Release(InUse);
}
