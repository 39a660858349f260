using System.Buffers.Binary;
using SocketCam.Media;

namespace SocketCam.Udp;

/// <summary>AUDIO and AUDIO_NACK (docs/PROTOCOL.md §2.0 "Audio"): one Opus packet per datagram, and the ids to resend.</summary>
internal static partial class UdpWire
{
    public const int AudioHeaderSize = 44;

    /// <summary>1132: an AUDIO still fits 1200 bytes on a sealed session (the 24-byte seal included).</summary>
    public const int MaxAudioPayload = MaxDatagram - AudioHeaderSize - DatagramSeal.Overhead;

    public const int AudioNackFixedSize = 20;

    public const int MaxAudioNackCount = 16;

    private const byte AudioFlagResent = 1;

    private const byte AudioFlagDiscontinuity = 2;

    /// <summary>Writes an AUDIO datagram: the header, then <paramref name="payload"/> (1..1132 bytes).</summary>
    public static int WriteAudio(Span<byte> destination, ulong sessionId, in UdpAudioHeader header, ReadOnlySpan<byte> payload)
    {
        if (payload.Length is < 1 or > MaxAudioPayload)
        {
            throw new ArgumentOutOfRangeException(nameof(payload), payload.Length, $"An AUDIO datagram carries 1..{MaxAudioPayload} bytes.");
        }

        WritePrefix(destination, DatagramType.Audio, sessionId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], header.PacketId);
        destination[20] = (byte)header.Codec;
        destination[21] = header.Channels;
        BinaryPrimitives.WriteUInt16BigEndian(destination[22..], header.Samples);
        BinaryPrimitives.WriteUInt16BigEndian(destination[24..], (ushort)payload.Length);
        destination[26] = (byte)((header.Resent ? AudioFlagResent : 0) | (header.Discontinuity ? AudioFlagDiscontinuity : 0));
        destination[27] = 0;
        BinaryPrimitives.WriteInt64BigEndian(destination[28..], header.Sequence);
        BinaryPrimitives.WriteInt64BigEndian(destination[36..], header.CaptureMicros);
        payload.CopyTo(destination[AudioHeaderSize..]);
        return AudioHeaderSize + payload.Length;
    }

    /// <summary>Marks an AUDIO datagram already written as a resend (its flags byte), in place.</summary>
    public static void MarkAudioResent(Span<byte> datagram) => datagram[26] |= AudioFlagResent;

    /// <summary>An AUDIO datagram, exactly: Opus, 1 or 2 channels, 10 or 20 ms, no unknown flag, the length it says.</summary>
    public static bool TryReadAudio(ReadOnlySpan<byte> datagram, out UdpAudioHeader header, out ReadOnlySpan<byte> payload)
    {
        header = default;
        payload = default;
        if (!HasPrefix(datagram, DatagramType.Audio, AudioHeaderSize + 1, AudioHeaderSize + MaxAudioPayload))
        {
            return false;
        }

        var codec = (CodecId)datagram[20];
        byte channels = datagram[21];
        ushort samples = BinaryPrimitives.ReadUInt16BigEndian(datagram[22..]);
        int length = BinaryPrimitives.ReadUInt16BigEndian(datagram[24..]);
        if (codec != CodecId.Opus || channels is < 1 or > 2 || samples is not (480 or 960) || datagram[26] > (AudioFlagResent | AudioFlagDiscontinuity)
            || datagram.Length != AudioHeaderSize + length)
        {
            return false;
        }

        header = new UdpAudioHeader(
            BinaryPrimitives.ReadUInt32BigEndian(datagram[16..]), codec, channels, samples, (ushort)length, (datagram[26] & AudioFlagResent) != 0,
            BinaryPrimitives.ReadInt64BigEndian(datagram[28..]), BinaryPrimitives.ReadInt64BigEndian(datagram[36..]), (datagram[26] & AudioFlagDiscontinuity) != 0);
        payload = datagram.Slice(AudioHeaderSize, length);
        return true;
    }

    /// <summary>Writes an AUDIO_NACK of 1..16 packet ids.</summary>
    public static int WriteAudioNack(Span<byte> destination, ulong sessionId, ReadOnlySpan<uint> packetIds)
    {
        if (packetIds.Length is < 1 or > MaxAudioNackCount)
        {
            throw new ArgumentOutOfRangeException(nameof(packetIds), packetIds.Length, $"An AUDIO_NACK carries 1..{MaxAudioNackCount} ids.");
        }

        WritePrefix(destination, DatagramType.AudioNack, sessionId);
        destination[16] = (byte)packetIds.Length;
        destination[17..20].Clear();
        for (int i = 0; i < packetIds.Length; i++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination[(AudioNackFixedSize + (4 * i))..], packetIds[i]);
        }

        return AudioNackFixedSize + (4 * packetIds.Length);
    }

    /// <summary>An AUDIO_NACK without allocating: <paramref name="ids"/> holds the big-endian ids (read with <see cref="AudioNackId"/>).</summary>
    public static bool TryReadAudioNack(ReadOnlySpan<byte> datagram, out ReadOnlySpan<byte> ids)
    {
        ids = default;
        if (!HasPrefix(datagram, DatagramType.AudioNack, AudioNackFixedSize + 4, AudioNackFixedSize + (4 * MaxAudioNackCount)))
        {
            return false;
        }

        int count = datagram[16];
        if (count is < 1 or > MaxAudioNackCount || datagram.Length != AudioNackFixedSize + (4 * count))
        {
            return false;
        }

        ids = datagram[AudioNackFixedSize..];
        return true;
    }

    public static uint AudioNackId(ReadOnlySpan<byte> ids, int i) => BinaryPrimitives.ReadUInt32BigEndian(ids[(4 * i)..]);
}
