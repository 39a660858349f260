using System.Text;
using SocketCam.Media;

namespace SocketCam.Sniff;

/// <summary>What kind of SocketCam traffic a session carries.</summary>
internal enum SessionFormat
{
    /// <summary>Protocol v1 over a stream (§1), or a stream followed from its middle whose version is unknown.</summary>
    V1,
    V2,
    /// <summary>A stream joined mid-way: v1 or v2, its preface not seen (v2's names are a superset).</summary>
    StreamMidway,
    Seed,
    ImageTcp,
    LiveUdp,
    ImageUdp,
}

/// <summary>One track's figures as the wire shows them (a v2 track, v1's one video stream, a UDP session's video or audio).</summary>
internal sealed class TrackFigures(string id, bool fromClient)
{
    public string Id { get; } = id;

    /// <summary>Sent by the session's client (published) rather than by the hub (received).</summary>
    public bool FromClient { get; } = fromClient;
    public string Kind { get; set; } = "video";
    public string Codec { get; set; } = "";
    public int Width { get; set; }
    public int Height { get; set; }
    public long Frames { get; set; }
    public long Keyframes { get; set; }
    public long Bytes { get; set; }

    /// <summary>Per second over the last interval (<see cref="SessionFigures.Tick"/>).</summary>
    public double FramesPerSecond { get; private set; }
    public double BitsPerSecond { get; private set; }

    private long _tickFrames;
    private long _tickBytes;

    public void Count(long bytes, bool keyframe)
    {
        Frames++;
        Bytes += bytes;
        if (keyframe)
        {
            Keyframes++;
        }
    }

    internal void Average(double seconds)
    {
        if (seconds > 0)
        {
            FramesPerSecond = Frames / seconds;
            BitsPerSecond = Bytes * 8 / seconds;
        }
    }

    internal void Tick(double seconds)
    {
        if (seconds > 0)
        {
            FramesPerSecond = (Frames - _tickFrames) / seconds;
            BitsPerSecond = (Bytes - _tickBytes) * 8 / seconds;
        }

        _tickFrames = Frames;
        _tickBytes = Bytes;
    }
}

/// <summary>
/// One SocketCam session's live figures, from what the sniffer saw of it: messages by type and direction, frames and
/// bitrate per track, chat, UDP loss recovery (fragments, NACKs, resends, the receiver's own REPORTs), TCP retransmissions.
/// </summary>
internal sealed class SessionFigures(string transport, string client, string server, SessionFormat format)
{
    public string Transport { get; } = transport;
    public string Client { get; } = client;
    public string Server { get; } = server;
    public string Id => $"{Transport} {Client} > {Server}";
    public SessionFormat Format { get; set; } = format;
    public bool MidStream { get; set; }
    public string? Room { get; set; }
    public string? Role { get; set; }
    public string? Name { get; set; }
    public long FirstSeenUs { get; set; }
    public long LastSeenUs { get; set; }
    public bool Ended { get; set; }

    /// <summary>How it ended, if the wire said (GOODBYE, ERROR, BYE, REFUSE, ABORT, a transfer's result): shown as text.</summary>
    public string? EndReason { get; set; }

    /// <summary>The first thing that broke the format (the sniffer stops reading that direction there).</summary>
    public string? Malformed { get; set; }

    public long Packets { get; set; }
    public long BytesFromClient { get; set; }
    public long BytesFromServer { get; set; }
    public SortedDictionary<string, long> MessagesFromClient { get; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, long> MessagesFromServer { get; } = new(StringComparer.Ordinal);
    public List<TrackFigures> Tracks { get; } = [];

    /// <summary>Tracks kept apart per session; any more (ids are the peer's to choose) share one "other" entry per direction.</summary>
    public const int MaxTracks = 64;

    private readonly Dictionary<(string Id, bool FromClient), TrackFigures> _tracks = [];

    /// <summary>Times a direction lost bytes to the capture and picked up again at the next message header.</summary>
    public long Resyncs { get; set; }

    public long ChatSent { get; set; }
    public long ChatReceived { get; set; }
    public long ChatHistory { get; set; }

    // UDP (live video and image transfer alike).
    public bool Sealed { get; set; }
    public long Fragments { get; set; }
    public long ParityFragments { get; set; }
    public long FramesIncomplete { get; set; }
    public long Nacks { get; set; }
    public long NackedItems { get; set; }
    public long Resends { get; set; }
    public long ReportedExpected { get; set; }
    public long ReportedLost { get; set; }
    public long ReportedFramesLost { get; set; }
    public long KeyframeRequests { get; set; }

    // TCP.
    public long Retransmissions { get; set; }
    public long OutOfOrder { get; set; }
    public long LostBytes { get; set; }

    // Image transfer.
    public long ImageLength { get; set; } = -1;
    public long ImagePartsTotal { get; set; }
    public long ImagePartsSeen { get; set; }

    private long _lastTickUs;

    /// <summary>A packet of the session: its payload bytes by direction, and the time it was seen.</summary>
    public void CountPacket(bool fromClient, long payloadBytes, long nowUs)
    {
        Packets++;
        LastSeenUs = nowUs;
        if (fromClient)
        {
            BytesFromClient += payloadBytes;
        }
        else
        {
            BytesFromServer += payloadBytes;
        }
    }

    public void CountMessage(bool fromClient, string name)
    {
        SortedDictionary<string, long> counts = fromClient ? MessagesFromClient : MessagesFromServer;
        counts[name] = counts.GetValueOrDefault(name) + 1;
    }

    public TrackFigures Track(string id, bool fromClient)
    {
        if (_tracks.TryGetValue((id, fromClient), out TrackFigures? track))
        {
            return track;
        }

        if (_tracks.Count >= MaxTracks)
        {
            id = "other";
            if (_tracks.TryGetValue((id, fromClient), out track))
            {
                return track;
            }
        }

        track = new TrackFigures(id, fromClient);
        _tracks[(id, fromClient)] = track;
        Tracks.Add(track);
        return track;
    }

    public void MarkMalformed(string what) => Malformed ??= what;

    /// <summary>The loss the frame receiver reported (REPORT: data fragments missing before recovery), in percent.</summary>
    public double? ReportedLossPercent => ReportedExpected > 0 ? 100.0 * ReportedLost / ReportedExpected : null;

    /// <summary>Closes an interval: per-second rates of every track (the session's averages once it ended, or when <paramref name="final"/>).</summary>
    public void Tick(long nowUs, bool final = false)
    {
        double seconds = _lastTickUs == 0 ? (nowUs - FirstSeenUs) / 1e6 : (nowUs - _lastTickUs) / 1e6;
        foreach (TrackFigures t in Tracks)
        {
            if (Ended || final)
            {
                t.Average((LastSeenUs - FirstSeenUs) / 1e6); // an ended session shows what it carried on average, not 0/s
            }
            else
            {
                t.Tick(seconds);
            }
        }

        _lastTickUs = nowUs;
    }

    public string FormatName => Format switch
    {
        SessionFormat.V1 => "v1",
        SessionFormat.V2 => "v2",
        SessionFormat.StreamMidway => "stream",
        SessionFormat.Seed => "seed",
        SessionFormat.ImageTcp => "image-tcp",
        SessionFormat.LiveUdp => "udp",
        SessionFormat.ImageUdp => "image-udp",
        _ => "?",
    };

    internal static string CodecName(byte codec) => CodecIds.KindOf((CodecId)codec) is null ? $"codec-{codec}" : CodecIds.Name((CodecId)codec);

    internal static string Describe(long count, string what) => count == 1 ? $"1 {what}" : $"{count} {what}s";

    internal static string Rate(double bitsPerSecond) => bitsPerSecond switch
    {
        >= 1e9 => $"{bitsPerSecond / 1e9:0.00} Gbit/s",
        >= 1e6 => $"{bitsPerSecond / 1e6:0.0} Mbit/s",
        _ => $"{bitsPerSecond / 1e3:0} kbit/s",
    };

    internal static void AppendCounts(StringBuilder sb, SortedDictionary<string, long> counts)
    {
        foreach ((string name, long n) in counts)
        {
            sb.Append("  ").Append(name).Append(' ').Append(n);
        }
    }
}
