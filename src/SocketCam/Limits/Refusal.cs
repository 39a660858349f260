namespace SocketCam.Limits;

/// <summary>Why a server refused or ended a peer because of a limit; the label of `socketcam_refusals_total` in /metrics.</summary>
public enum Refusal
{
    /// <summary>The listener's total connection limit.</summary>
    ConnectionLimit,

    /// <summary>One address holds its share of a listener's slots already.</summary>
    AddressLimit,

    /// <summary>A missing or wrong token.</summary>
    Unauthorized,

    /// <summary>Too many failed attempts from this address: refused before looking.</summary>
    Throttled,

    /// <summary>No handshake (HELLO, request headers) in time.</summary>
    HandshakeTimeout,

    /// <summary>A frame or body in progress arrived slower than the minimum data rate.</summary>
    DataRateTooLow,

    /// <summary>The bytes-in-flight budget (TCP frames being received) is spent.</summary>
    FrameBudget,

    /// <summary>The UDP reassembly budget is spent.</summary>
    ReassemblyBudget,

    /// <summary>A WebSocket from a page of another origin.</summary>
    ForbiddenOrigin,

    /// <summary>A publisher above --max-publish-fps or --max-publish-bitrate.</summary>
    PublishRateLimit,

    /// <summary>Recording stopped for the directory's size cap or the disk's free-space margin.</summary>
    RecordingLimit,

    /// <summary>A chat message refused: above 4 KiB, over the participant's chat rate, or not allowed (docs/PROTOCOL.md §4.15).</summary>
    ChatRefused,

    /// <summary>A room at its participant limit (`--max-participants`).</summary>
    RoomFull,

    /// <summary>A participant at its track limit (`--max-tracks`).</summary>
    TrackLimit,

    /// <summary>A room that may not be opened: not one of `--rooms` without the create grant, or beyond `--max-rooms`.</summary>
    RoomLimit,

    /// <summary>A request the participant's token does not grant (publish, subscribe, chat).</summary>
    NotGranted,
}

/// <summary>Counts of <see cref="Refusal"/>s since the server started. Thread-safe, allocation-free.</summary>
public sealed class RefusalCounters
{
    private readonly long[] _counts = new long[Enum.GetValues<Refusal>().Length];

    public void Count(Refusal reason) => Interlocked.Increment(ref _counts[(int)reason]);

    public long this[Refusal reason] => Volatile.Read(ref _counts[(int)reason]);

    /// <summary>The label used in /metrics and /api/stats, e.g. "address_limit".</summary>
    public static string Label(Refusal reason) => reason switch
    {
        Refusal.ConnectionLimit => "connection_limit",
        Refusal.AddressLimit => "address_limit",
        Refusal.Unauthorized => "unauthorized",
        Refusal.Throttled => "throttled",
        Refusal.HandshakeTimeout => "handshake_timeout",
        Refusal.DataRateTooLow => "data_rate_too_low",
        Refusal.FrameBudget => "frame_budget",
        Refusal.ReassemblyBudget => "reassembly_budget",
        Refusal.ForbiddenOrigin => "forbidden_origin",
        Refusal.PublishRateLimit => "publish_rate_limit",
        Refusal.RecordingLimit => "recording_limit",
        Refusal.ChatRefused => "chat_refused",
        Refusal.RoomFull => "room_full",
        Refusal.TrackLimit => "track_limit",
        Refusal.RoomLimit => "room_limit",
        Refusal.NotGranted => "not_granted",
        _ => reason.ToString(),
    };
}
