using SocketCam.Media;

namespace SocketCam.Udp;

/// <summary>
/// The sending half of audio over UDP (docs/PROTOCOL.md §2.0 "Audio"): one AUDIO datagram per Opus packet, numbered by
/// <c>packet_id</c>, the last 32 kept (640 ms) so that what the receiver NACKs within 200 ms is sent again, at most
/// twice. <see cref="Send"/> runs on the session's send loop, <see cref="OnNack"/> on its receive loop: one lock.
/// </summary>
internal sealed class UdpAudioSender
{
    public const int Kept = 32;
    private const long ResendWindowMicros = 200_000;
    private const int MaxResends = 2;

    private readonly UdpFrameSender.DatagramSend _send;
    private readonly ulong _sessionId;
    private readonly byte[] _ring = new byte[Kept * UdpWire.MaxDatagram];
    private readonly int[] _lengths = new int[Kept];
    private readonly uint[] _ids = new uint[Kept];
    private readonly long[] _sentAt = new long[Kept];
    private readonly byte[] _resends = new byte[Kept];
    private readonly Lock _lock = new();
    private uint _nextId;
    private long _packets;
    private long _bytes;
    private long _resent;
    private long _tooLarge;

    public UdpAudioSender(UdpFrameSender.DatagramSend send, ulong sessionId)
    {
        _send = send;
        _sessionId = sessionId;
    }

    public long PacketsSent => Interlocked.Read(ref _packets);

    /// <summary>Bytes of AUDIO datagrams sent the first time.</summary>
    public long BytesSent => Interlocked.Read(ref _bytes);

    /// <summary>Packets sent again because the receiver asked.</summary>
    public long Resent => Interlocked.Read(ref _resent);

    /// <summary>Packets UDP cannot carry, not sent: above 1132 bytes, or not 10 or 20 ms long (a v2 publisher's 40 or 60 ms packets).</summary>
    public long TooLarge => Interlocked.Read(ref _tooLarge);

    /// <summary>Sends one packet of a track with <paramref name="channels"/> (its capture time already on the receiver's clock); returns the datagram's size, 0 when it was too large.</summary>
    /// <param name="discontinuity">The packet starts another stream than the previous one (the hub's primary participant changed).</param>
    public int Send(in FrameInfo info, int channels, ReadOnlySpan<byte> payload, long nowMicros, bool discontinuity = false)
    {
        if (payload.Length is < 1 or > UdpWire.MaxAudioPayload || info.Width is not (480 or 960))
        {
            Interlocked.Increment(ref _tooLarge);
            return 0;
        }

        lock (_lock)
        {
            int slot = (int)(_nextId % Kept);
            Span<byte> datagram = _ring.AsSpan(slot * UdpWire.MaxDatagram, UdpWire.MaxDatagram);
            var header = new UdpAudioHeader(_nextId, info.Codec, (byte)Math.Clamp(channels, 1, 2), (ushort)info.Width, (ushort)payload.Length, false, info.Sequence, info.CaptureMicros, discontinuity);
            int length = UdpWire.WriteAudio(datagram, _sessionId, header, payload);
            _lengths[slot] = length;
            _ids[slot] = _nextId;
            _sentAt[slot] = nowMicros;
            _resends[slot] = 0;
            _nextId++;
            _send(datagram[..length]);
            _packets++;
            _bytes += length;
            return length;
        }
    }

    /// <summary>Resends the NACKed ids it still has (within 200 ms, at most twice each); returns how many went out.</summary>
    public int OnNack(ReadOnlySpan<byte> ids, long nowMicros)
    {
        int count = ids.Length / 4;
        int resent = 0;
        lock (_lock)
        {
            for (int i = 0; i < count; i++)
            {
                uint id = UdpWire.AudioNackId(ids, i);
                int slot = (int)(id % Kept);
                if (_lengths[slot] == 0 || _ids[slot] != id || _resends[slot] >= MaxResends || nowMicros - _sentAt[slot] > ResendWindowMicros
                    || (int)(_nextId - id) <= 0)
                {
                    continue;
                }

                Span<byte> datagram = _ring.AsSpan(slot * UdpWire.MaxDatagram, _lengths[slot]);
                UdpWire.MarkAudioResent(datagram);
                _resends[slot]++;
                _send(datagram);
                resent++;
            }

            _resent += resent;
        }

        return resent;
    }
}
