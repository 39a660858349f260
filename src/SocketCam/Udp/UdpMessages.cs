using SocketCam.Media;
using SocketCam.Codecs;
using SocketCam.Protocol;

namespace SocketCam.Udp;

/// <summary>HELLO: the TCP HELLO's fields plus a nonce (echoed by WELCOME/REFUSE) and flags (bit 0: no loss recovery).</summary>
internal readonly record struct UdpHello(ulong Nonce, byte Flags, PeerRole Role, string Room, string? Token, string Agent)
{
    public bool NoLossRecovery => (Flags & UdpWire.HelloFlagNoRecovery) != 0;

    public bool WantsAudio => (Flags & UdpWire.HelloFlagAudio) != 0;

    /// <summary>A viewer that takes H.264 as it is (HELLO flag bit 3); without it, JPEG.</summary>
    public bool TakesH264 => (Flags & UdpWire.HelloFlagH264) != 0;
}

/// <summary>
/// The 44-byte header of an AUDIO datagram (the prefix's session id aside): one Opus packet, never fragmented.
/// <see cref="PacketId"/> counts datagrams of the session for loss detection; <see cref="Sequence"/> is the track's.
/// </summary>
internal readonly record struct UdpAudioHeader(uint PacketId, CodecId Codec, byte Channels, ushort Samples, ushort PayloadLength, bool Resent, long Sequence, long CaptureMicros, bool Discontinuity = false);

internal readonly record struct UdpWelcome(ulong Nonce, long ServerTimeMicros, uint MaxFrameBytes, ushort FragmentPayload);

internal readonly record struct UdpRefuse(ulong Nonce, ErrorCode Code, string Text);

/// <summary>
/// The 52-byte header of a FRAGMENT (the prefix's session id aside). Every fragment repeats the frame's description,
/// so whichever arrives first tells the receiver everything.
/// </summary>
internal readonly record struct FragmentHeader(
    uint FrameId,
    ushort Index,
    ushort DataCount,
    byte Group,
    CodecId Codec,
    ushort Width,
    ushort Height,
    ushort PayloadLength,
    uint TotalLength,
    long Sequence,
    long CaptureMicros)
{
    public bool IsParity => Index >= DataCount;

    public int ParityCount => UdpWire.ParityCount(DataCount, Group);

    public VideoFrameHeader ToVideoFrameHeader() => new(Codec, Width, Height, Sequence, CaptureMicros);
}

/// <summary>NACK: data fragments of one frame that the receiver asks to be sent again.</summary>
internal readonly record struct UdpNack(uint FrameId, ushort[] Indexes);

/// <summary>REPORT: what the frame receiver saw since its previous report.</summary>
internal readonly record struct UdpReport(uint FragmentsExpected, uint FragmentsLost, uint FramesCompleted, uint FramesLost, uint RttMicros);

/// <summary>How <see cref="UdpWire.ReadFragment"/> judged a datagram.</summary>
internal enum FragmentReadResult
{
    Ok,
    Malformed,

    /// <summary>A well-formed fragment of a frame above the receiver's cap.</summary>
    TooLarge,
}
