using System.Buffers.Binary;

namespace SocketCam.Transfer;

/// <summary>Message types of the image transfer protocol (docs/PROTOCOL.md §2.1).</summary>
internal enum TransferMessageType : byte
{
    Data = 0x01,
    Nack = 0x02,
    Ack = 0x03,
    Done = 0x04,
    Abort = 0x05,
    TcpOffer = 0x10,
    TcpResult = 0x11,
}

/// <summary>Why a transfer ended without a file (ABORT and TCP_RESULT <c>code</c>; 0 = the file was written).</summary>
internal enum TransferCode : ushort
{
    Ok = 0,
    GaveUp = 1,
    Cancelled = 2,
    TooLarge = 3,
    ChecksumMismatch = 4,
    WriteFailed = 5,
    Timeout = 6,
    UnsupportedVersion = 7,
}

/// <summary>Constants, the common header prefix, and the part arithmetic every side must agree on.</summary>
internal static class TransferProtocol
{
    /// <summary>ASCII <c>SCIM</c>.</summary>
    public const uint Magic = 0x5343494D;

    public const byte Version = 1;

    /// <summary>Magic, version, type.</summary>
    public const int ShortPrefixBytes = 6;

    /// <summary>Magic, version, type, reserved, transfer id: the start of every datagram.</summary>
    public const int DatagramPrefixBytes = 16;

    /// <summary>No datagram is longer, header included (no IP fragmentation on any path).</summary>
    public const int MaxDatagramBytes = 1200;

    public const int DataHeaderBytes = 40;

    /// <summary>The payload of every DATA but the last.</summary>
    public const int PartBytes = MaxDatagramBytes - DataHeaderBytes;

    public const int NackHeaderBytes = 24;

    public const int NackRangeBytes = 8;

    public const int MaxNackRanges = (MaxDatagramBytes - NackHeaderBytes) / NackRangeBytes;

    public const int AckBytes = 32;

    public const int DoneBytes = DatagramPrefixBytes;

    public const int AbortBytes = 32;

    public const int TcpOfferBytes = 24;

    public const int TcpResultBytes = 16;

    /// <summary>The default cap on the length of a received file.</summary>
    public const long DefaultMaxFileBytes = 256L * 1024 * 1024;

    /// <summary>The largest file either side can hold (one .NET array).</summary>
    public static long MaxFileBytesLimit => Array.MaxLength;

    /// <summary><c>max(1, ceil(total / PartBytes))</c>: an empty file is one DATA with no payload.</summary>
    public static long PartCount(long totalLength) => totalLength <= 0 ? 1 : ((totalLength - 1) / PartBytes) + 1;

    /// <summary>The payload length of part <paramref name="index"/> (valid index assumed).</summary>
    public static int PartLength(long totalLength, long index) => (int)Math.Min(PartBytes, totalLength - (index * PartBytes));

    public static void WritePrefix(Span<byte> destination, TransferMessageType type)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, Magic);
        destination[4] = Version;
        destination[5] = (byte)type;
    }

    /// <summary>Writes the 16-byte datagram prefix (magic, version, type, reserved 0, transfer id).</summary>
    public static void WriteDatagramPrefix(Span<byte> destination, TransferMessageType type, ulong transferId)
    {
        WritePrefix(destination, type);
        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], 0);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], transferId);
    }

    /// <summary>
    /// Reads the prefix every datagram starts with. False for anything else (too short, too long, another magic or
    /// version): a stray datagram, ignored without answering.
    /// </summary>
    public static bool TryReadDatagramPrefix(ReadOnlySpan<byte> datagram, out TransferMessageType type, out ulong transferId)
    {
        type = default;
        transferId = 0;
        if (datagram.Length < DatagramPrefixBytes || datagram.Length > MaxDatagramBytes
            || BinaryPrimitives.ReadUInt32BigEndian(datagram) != Magic || datagram[4] != Version)
        {
            return false;
        }

        type = (TransferMessageType)datagram[5];
        transferId = BinaryPrimitives.ReadUInt64BigEndian(datagram[8..]);
        return true;
    }

    public static string Describe(TransferCode code) => code switch
    {
        TransferCode.Ok => "ok",
        TransferCode.GaveUp => "gave up",
        TransferCode.Cancelled => "cancelled",
        TransferCode.TooLarge => "too large",
        TransferCode.ChecksumMismatch => "checksum mismatch",
        TransferCode.WriteFailed => "could not write the file",
        TransferCode.Timeout => "timed out",
        TransferCode.UnsupportedVersion => "unsupported protocol version",
        _ => $"code {(ushort)code}",
    };
}
