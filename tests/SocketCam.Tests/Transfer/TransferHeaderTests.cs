using System.Buffers.Binary;
using SocketCam.Transfer;

namespace SocketCam.Tests.Transfer;

/// <summary>The datagram and TCP headers of docs/PROTOCOL.md §2.1: round trips, and everything a receiver must refuse.</summary>
public sealed class TransferHeaderTests
{
    private const ulong Id = 0x1122334455667788;

    [Theory]
    [InlineData(0L, 1)]
    [InlineData(1L, 1)]
    [InlineData(1160L, 1)]
    [InlineData(1161L, 2)]
    [InlineData(139_200L, 120)]
    [InlineData(268_435_456L, 231_410)]
    public void Part_count_is_the_ceiling_of_length_over_1160_and_at_least_one(long length, int count)
    {
        Assert.Equal(count, TransferProtocol.PartCount(length));
        Assert.Equal(1200, TransferProtocol.DataHeaderBytes + TransferProtocol.PartBytes);
    }

    [Theory]
    [InlineData(0L, 0)]
    [InlineData(5000L, 0)]
    [InlineData(5000L, 4)]
    [InlineData(1160L, 0)]
    public void Data_round_trips(long total, int index)
    {
        var header = UdpChunkHeader.ForPart(Id, index, total, 0xCAFEBABE);
        byte[] datagram = Datagram(header);

        Assert.True(UdpChunkHeader.TryParse(datagram, out UdpChunkHeader parsed, out ReadOnlySpan<byte> payload, out string? error), error);
        Assert.Equal(header, parsed);
        Assert.Equal(header.PayloadLength, payload.Length);
        Assert.True(datagram.Length <= TransferProtocol.MaxDatagramBytes);
        Assert.Equal("SCIM"u8.ToArray(), datagram[..4]);
    }

    [Fact]
    public void The_last_part_carries_the_remainder()
    {
        var last = UdpChunkHeader.ForPart(Id, 4, 5000, 0);
        Assert.Equal(5, last.Count);
        Assert.Equal(5000 - (4 * 1160), last.PayloadLength);
    }

    public static TheoryData<string, byte[]> Malformed()
    {
        byte[] good = Datagram(UdpChunkHeader.ForPart(Id, 1, 5000, 0xCAFEBABE));
        var data = new TheoryData<string, byte[]>
        {
            { "empty", [] },
            { "random bytes", TransferTesting.Bytes(500, seed: 9) },
            { "shorter than the prefix", good[..15] },
            { "shorter than the header", good[..39] },
            { "longer than 1200 bytes", [.. good, .. new byte[1200]] },
            { "payload cut short", good[..^1] },
            { "a byte too many", [.. good, 0] },
        };
        data.Add("wrong magic", With(good, d => d[0] = (byte)'X'));
        data.Add("wrong version", With(good, d => d[4] = 2));
        data.Add("not a DATA", With(good, d => d[5] = (byte)TransferMessageType.Nack));
        data.Add("index equal to the count", With(good, d => BinaryPrimitives.WriteUInt32BigEndian(d.AsSpan(16), 5)));
        data.Add("index far beyond the count", With(good, d => BinaryPrimitives.WriteUInt32BigEndian(d.AsSpan(16), uint.MaxValue)));
        data.Add("count lies (too many)", With(good, d => BinaryPrimitives.WriteUInt32BigEndian(d.AsSpan(20), 6)));
        data.Add("count lies (too few)", With(good, d => BinaryPrimitives.WriteUInt32BigEndian(d.AsSpan(20), 4)));
        data.Add("total lies (bigger)", With(good, d => BinaryPrimitives.WriteUInt64BigEndian(d.AsSpan(24), 50_000)));
        data.Add("total above 2^63", With(good, d => BinaryPrimitives.WriteUInt64BigEndian(d.AsSpan(24), ulong.MaxValue)));
        data.Add("payload length lies", With(good, d => BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(36), 1000)));
        data.Add("zero count", With(good, d => BinaryPrimitives.WriteUInt32BigEndian(d.AsSpan(20), 0)));
        return data;
    }

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_data_is_rejected(string what, byte[] datagram)
    {
        Assert.False(UdpChunkHeader.TryParse(datagram, out _, out _, out _), what);
    }

    [Fact]
    public void An_empty_file_is_one_data_with_no_payload_and_nothing_else_claims_zero_bytes()
    {
        byte[] empty = Datagram(UdpChunkHeader.ForPart(Id, 0, 0, 0));
        Assert.Equal(TransferProtocol.DataHeaderBytes, empty.Length);
        Assert.True(UdpChunkHeader.TryParse(empty, out UdpChunkHeader header, out _, out _));
        Assert.Equal(1, header.Count);

        byte[] emptyWithPayload = [.. With(empty, d => BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(36), 1)), 0];
        Assert.False(UdpChunkHeader.TryParse(emptyWithPayload, out _, out _, out _));
    }

    [Fact]
    public void A_huge_total_length_parses_so_the_receiver_can_refuse_it_by_its_cap()
    {
        // Structurally valid (count matches): the cap check, not the parser, refuses it, before any allocation.
        long total = 1L << 40;
        var header = new UdpChunkHeader(Id, 0, (int)TransferProtocol.PartCount(total), total, 1, TransferProtocol.PartBytes);
        Assert.True(UdpChunkHeader.TryParse(Datagram(header), out UdpChunkHeader parsed, out _, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => new UdpReassembly(parsed, TransferProtocol.DefaultMaxFileBytes));
    }

    [Fact]
    public void Nack_round_trips()
    {
        byte[] buffer = new byte[TransferProtocol.MaxDatagramBytes];
        PartRange[] ranges = [new(7, 1), new(40, 2), new(100, 20)];
        int length = TransferControl.WriteNack(buffer, Id, 23, 5, ranges);

        PartRange[] parsed = new PartRange[TransferProtocol.MaxNackRanges];
        Assert.True(TransferControl.TryParseNack(buffer.AsSpan(0, length), 120, parsed, out int missing, out ushort sequence, out int count));
        Assert.Equal(23, missing);
        Assert.Equal(5, sequence);
        Assert.Equal(ranges, parsed[..count]);
        Assert.True(TransferProtocol.TryReadDatagramPrefix(buffer.AsSpan(0, length), out TransferMessageType type, out ulong id));
        Assert.Equal((TransferMessageType.Nack, Id), (type, id));
    }

    [Fact]
    public void The_largest_nack_fits_in_one_datagram()
    {
        byte[] buffer = new byte[TransferProtocol.MaxDatagramBytes];
        PartRange[] ranges = [.. Enumerable.Range(0, TransferProtocol.MaxNackRanges).Select(i => new PartRange(i * 2, 1))];
        Assert.True(TransferControl.WriteNack(buffer, Id, ranges.Length, 1, ranges) <= TransferProtocol.MaxDatagramBytes);
    }

    [Theory]
    [InlineData("no range", new int[0], 0)]
    [InlineData("empty range", new[] { 3, 0 }, 1)]
    [InlineData("beyond the count", new[] { 110, 20 }, 20)]
    [InlineData("overlapping", new[] { 1, 5, 3, 2 }, 7)]
    [InlineData("unordered", new[] { 50, 1, 10, 1 }, 2)]
    [InlineData("missing below what the ranges cover", new[] { 1, 5 }, 4)]
    [InlineData("missing above the count", new[] { 1, 5 }, 121)]
    public void Inconsistent_nacks_are_rejected(string what, int[] pairs, int missing)
    {
        byte[] buffer = new byte[TransferProtocol.MaxDatagramBytes];
        TransferProtocol.WriteDatagramPrefix(buffer, TransferMessageType.Nack, Id);
        int n = pairs.Length / 2;
        BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(16), (uint)missing);
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(20), (ushort)n);
        for (int i = 0; i < n; i++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(24 + (8 * i)), (uint)pairs[2 * i]);
            BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(28 + (8 * i)), (uint)pairs[(2 * i) + 1]);
        }

        PartRange[] parsed = new PartRange[TransferProtocol.MaxNackRanges];
        Assert.False(TransferControl.TryParseNack(buffer.AsSpan(0, 24 + (8 * n)), 120, parsed, out _, out _, out _), what);
        // A length that disagrees with range_count is refused too.
        Assert.False(TransferControl.TryParseNack(buffer.AsSpan(0, 24 + (8 * n) + 8), 120, parsed, out _, out _, out _), what);
    }

    [Fact]
    public void Ack_done_and_abort_round_trip()
    {
        byte[] buffer = new byte[TransferProtocol.MaxDatagramBytes];
        int ack = TransferControl.WriteAck(buffer, Id, 123_456, 0xCBF43926);
        Assert.True(TransferControl.TryParseAck(buffer.AsSpan(0, ack), out long total, out uint crc));
        Assert.Equal((123_456L, 0xCBF43926u), (total, crc));
        Assert.False(TransferControl.TryParseAck(buffer.AsSpan(0, ack - 1), out _, out _));

        int done = TransferControl.WriteDone(buffer, Id);
        Assert.True(TransferControl.IsDone(buffer.AsSpan(0, done)));
        Assert.False(TransferControl.IsDone(buffer.AsSpan(0, done + 1)));

        int abort = TransferControl.WriteAbort(buffer, Id, TransferCode.TooLarge, 1024);
        Assert.True(TransferControl.TryParseAbort(buffer.AsSpan(0, abort), out TransferCode code, out ulong value));
        Assert.Equal((TransferCode.TooLarge, 1024UL), (code, value));
    }

    [Fact]
    public void Tcp_offer_and_result_round_trip()
    {
        byte[] offer = new byte[TransferProtocol.TcpOfferBytes];
        TcpTransferHeader.WriteOffer(offer, 3_000_000, 0x5C35B7A2);
        Assert.Equal(TcpOfferStatus.Valid, TcpTransferHeader.TryParseOffer(offer, out ulong length, out uint crc));
        Assert.Equal((3_000_000UL, 0x5C35B7A2u), (length, crc));

        byte[] result = new byte[TransferProtocol.TcpResultBytes];
        TcpTransferHeader.WriteResult(result, TransferCode.Ok, 3_000_000);
        Assert.True(TcpTransferHeader.TryParseResult(result, out TransferCode code, out ulong value));
        Assert.Equal((TransferCode.Ok, 3_000_000UL), (code, value));
    }

    [Fact]
    public void Tcp_offers_that_are_not_ours_are_told_apart_from_other_versions()
    {
        byte[] offer = new byte[TransferProtocol.TcpOfferBytes];
        TcpTransferHeader.WriteOffer(offer, 10, 0);
        Assert.Equal(TcpOfferStatus.Foreign, TcpTransferHeader.TryParseOffer("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8, out _, out _));
        Assert.Equal(TcpOfferStatus.Foreign, TcpTransferHeader.TryParseOffer(With(offer, d => d[5] = (byte)TransferMessageType.Data), out _, out _));
        Assert.Equal(TcpOfferStatus.UnsupportedVersion, TcpTransferHeader.TryParseOffer(With(offer, d => d[4] = 9), out _, out _));
        Assert.Equal(TcpOfferStatus.Foreign, TcpTransferHeader.TryParseOffer(offer.AsSpan(0, 23), out _, out _));
    }

    [Fact]
    public void Missing_parts_are_described_compactly()
    {
        Assert.Equal("missing 3 of 120 parts: 7, 40-41", PartRange.DescribeMissing(3, 120, [new(7, 1), new(40, 2)]));
        Assert.Equal("missing 1 of 1 part: 0", PartRange.DescribeMissing(1, 1, [new(0, 1)]));
        PartRange[] many = [.. Enumerable.Range(0, 20).Select(i => new PartRange(i * 3, 1))];
        string text = PartRange.DescribeMissing(20, 100, many, maxShown: 3);
        Assert.Equal("missing 20 of 100 parts: 0, 3, 6, ...", text);
        Assert.Equal("missing 9 of 100 parts: 0-1, ...", PartRange.DescribeMissing(9, 100, [new(0, 2)]));
    }

    private static byte[] Datagram(UdpChunkHeader header)
    {
        byte[] datagram = new byte[TransferProtocol.DataHeaderBytes + header.PayloadLength];
        header.Write(datagram);
        return datagram;
    }

    private static byte[] With(byte[] original, Action<byte[]> change)
    {
        byte[] copy = [.. original];
        change(copy);
        return copy;
    }
}
