using System.Buffers.Binary;

namespace SocketCam.Sniff;

/// <summary>
/// A capture file in the classic libpcap format (what tcpdump -w writes; Wireshark and tshark open it): the 24-byte
/// global header (magic a1b2c3d4, version 2.4, microsecond timestamps, link type Ethernet), then per frame a 16-byte
/// record header and the bytes. Frames of links without an Ethernet header (tun-like) get a made-up one, so one link
/// type serves every interface.
/// </summary>
internal sealed class PcapWriter : IDisposable
{
    /// <summary>Frames longer than this are cut (loopback's largest, with TSO, is 64 KiB plus headers).</summary>
    public const int SnapLength = 262144;

    private const uint LinkTypeEthernet = 1;
    private readonly FileStream _file;
    private readonly byte[] _record = new byte[16];
    private static readonly byte[] MadeUpEthernetV4 = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00];
    private static readonly byte[] MadeUpEthernetV6 = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x86, 0xDD];

    public PcapWriter(string path)
    {
        _file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 20);
        Span<byte> header = stackalloc byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0xA1B2C3D4);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], SnapLength);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], LinkTypeEthernet);
        _file.Write(header);
    }

    public long Frames { get; private set; }
    public long Bytes => _file.Position;

    /// <param name="ethernet">false: <paramref name="frame"/> starts with an IP header.</param>
    public void Write(long timestampMicros, ReadOnlySpan<byte> frame, int originalLength, bool ethernet)
    {
        byte[]? link = ethernet ? null : frame.Length > 0 && frame[0] >> 4 == 6 ? MadeUpEthernetV6 : MadeUpEthernetV4;
        int extra = link?.Length ?? 0;
        int captured = Math.Min(frame.Length, SnapLength - extra);
        BinaryPrimitives.WriteUInt32LittleEndian(_record, (uint)(timestampMicros / 1_000_000));
        BinaryPrimitives.WriteUInt32LittleEndian(_record.AsSpan(4), (uint)(timestampMicros % 1_000_000));
        BinaryPrimitives.WriteUInt32LittleEndian(_record.AsSpan(8), (uint)(captured + extra));
        BinaryPrimitives.WriteUInt32LittleEndian(_record.AsSpan(12), (uint)(Math.Max(originalLength, frame.Length) + extra));
        _file.Write(_record);
        if (link is not null)
        {
            _file.Write(link);
        }

        _file.Write(frame[..captured]);
        Frames++;
    }

    /// <summary>Pushes what is buffered to the file, so the capture so far is readable (even if the process is then killed).</summary>
    public void Flush() => _file.Flush();

    public void Dispose() => _file.Dispose();
}
