using SocketCam.Media;
using SocketCam.Protocol;

namespace SocketCam.Udp;

/// <summary>A frame receiver's policy; the defaults are those of docs/PROTOCOL.md §2.0.</summary>
internal sealed record ReassemblyOptions
{
    public static ReassemblyOptions Default { get; } = new();

    /// <summary>Frames in reassembly at once; the oldest incomplete one is dropped to make room.</summary>
    public int MaxFramesInFlight { get; init; } = 4;

    /// <summary>An incomplete frame is dropped this long after its first fragment.</summary>
    public long DeadlineMicros { get; init; } = 200_000;

    /// <summary>A new frame id further than this from the newest seen is dropped (unless resynchronising).</summary>
    public uint FarFutureWindow { get; init; } = 256;

    /// <summary>After this long without a delivered frame, an out-of-window frame id restarts the window (the sender restarted).</summary>
    public long ResyncMicros { get; init; } = 1_000_000;

    /// <summary>A frame is NACKed this long after its last fragment arrived (or at once when a newer frame's fragment arrives).</summary>
    public long NackDelayMicros { get; init; } = 5_000;

    /// <summary>A NACK is repeated after this many round trips while the deadline allows.</summary>
    public double NackRepeatRttFactor { get; init; } = 1.5;

    /// <summary>Floor on the repeat interval, so a sub-millisecond loopback round trip does not turn NACKs into a flood.</summary>
    public long MinNackRepeatMicros { get; init; } = 2_000;

    /// <summary>The round trip assumed for repeats while none has been measured.</summary>
    public long UnknownRttMicros { get; init; } = 20_000;

    /// <summary>False: the HELLO said "no loss recovery": no NACK is ever collected (parity that arrives is still used).</summary>
    public bool RecoveryEnabled { get; init; } = true;
}

/// <summary>What <see cref="FrameReassembler.Accept"/> did with a datagram.</summary>
internal enum ReassemblyResult
{
    /// <summary>A new fragment, stored (and perhaps a data fragment rebuilt from parity); the frame is not complete yet.</summary>
    Accepted,

    /// <summary>The fragment completed a frame, handed out to the caller.</summary>
    Completed,

    /// <summary>That fragment (or its rebuilt copy) was already there.</summary>
    Duplicate,

    /// <summary>Not exactly a FRAGMENT layout.</summary>
    Malformed,

    /// <summary>Disagrees with the first fragment of its frame (size, group, codec, sequence ...).</summary>
    Inconsistent,

    /// <summary>The frame is above the receiver's cap: refused before anything was allocated.</summary>
    TooLarge,

    /// <summary>The frame was already delivered or dropped, or is older than one that was.</summary>
    Late,

    /// <summary>The frame id is too far from the newest seen; the window did not move.</summary>
    FarFuture,

    /// <summary>The reassembly budget (the session's or the hub's, per address or in total) cannot take it: dropped.</summary>
    OverBudget,
}

/// <summary>A frame receiver's cumulative counters.</summary>
internal readonly record struct ReassemblyStats
{
    /// <summary>New fragments stored (data and parity; duplicates not counted).</summary>
    public long FragmentsReceived { get; init; }

    public long Duplicates { get; init; }

    /// <summary>Data fragments rebuilt from parity.</summary>
    public long Recovered { get; init; }

    /// <summary>Data fragments that arrived after being NACKed (retransmissions, or originals that were very late).</summary>
    public long RetransmittedArrivals { get; init; }

    /// <summary>Data fragments of the frames finished (delivered or dropped), plus one for each frame never seen at all.</summary>
    public long FragmentsExpected { get; init; }

    /// <summary>Of those, the ones missing from the first transmission (rebuilt, retransmitted or never there).</summary>
    public long FragmentsLost { get; init; }

    public long FramesCompleted { get; init; }

    /// <summary>Every frame dropped or never seen: the sum of the reasons below.</summary>
    public long FramesLost { get; init; }

    public long FramesExpired { get; init; }

    /// <summary>Dropped to make room under the in-flight cap.</summary>
    public long FramesEvicted { get; init; }

    /// <summary>Dropped because a newer frame was delivered first.</summary>
    public long FramesSuperseded { get; init; }

    /// <summary>Frame ids skipped over without a single fragment seen.</summary>
    public long FramesUnseen { get; init; }

    /// <summary>Dropped when an out-of-window frame restarted the window.</summary>
    public long FramesResynced { get; init; }

    public long Malformed { get; init; }

    public long Inconsistent { get; init; }

    public long TooLarge { get; init; }

    /// <summary>Fragments (or new frames) dropped because the reassembly budget was spent.</summary>
    public long OverBudget { get; init; }

    public long Late { get; init; }

    public long FarFuture { get; init; }

    public long Resyncs { get; init; }

    /// <summary>Data fragments asked for in NACKs (each repeat counts again).</summary>
    public long FragmentsNacked { get; init; }
}

/// <summary>A reassembled frame in a pooled buffer: the caller disposes it once it is done with <see cref="Data"/>.</summary>
internal sealed class CompletedFrame : IDisposable
{
    private byte[]? _buffer;

    internal CompletedFrame(byte[] buffer, uint frameId, in VideoFrameHeader header, int length)
    {
        _buffer = buffer;
        FrameId = frameId;
        Header = header;
        Length = length;
    }

    public uint FrameId { get; }

    public VideoFrameHeader Header { get; }

    public int Length { get; }

    /// <summary>The picture bytes.</summary>
    public ReadOnlyMemory<byte> Data => (_buffer ?? throw new ObjectDisposedException(nameof(CompletedFrame))).AsMemory(0, Length);

    public void Dispose()
    {
        byte[]? buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is not null)
        {
            FrameBufferPool.Shared.Return(buffer);
        }
    }
}
