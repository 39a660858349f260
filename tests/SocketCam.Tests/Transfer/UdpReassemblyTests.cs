using SocketCam.Transfer;

namespace SocketCam.Tests.Transfer;

public sealed class UdpReassemblyTests
{
    private const ulong Id = 77;

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(1160)]
    [InlineData(1161)]
    [InlineData(250_000)]
    public void Parts_in_any_order_with_duplicates_rebuild_the_file(int length)
    {
        byte[] file = TransferTesting.Bytes(length);
        uint crc = Crc32.Compute(file);
        int count = (int)TransferProtocol.PartCount(length);
        int[] order = [.. Enumerable.Range(0, count)];
        new Random(5).Shuffle(order);
        UdpReassembly? reassembly = null;
        long duplicates = 0;
        foreach (int index in order.Concat(order.Take(count / 3 + 1)))
        {
            var header = UdpChunkHeader.ForPart(Id, index, length, crc);
            reassembly ??= new UdpReassembly(header, TransferProtocol.DefaultMaxFileBytes);
            PartOutcome outcome = reassembly.Add(header, Payload(file, header));
            duplicates += outcome == PartOutcome.Duplicate ? 1 : 0;
        }

        Assert.NotNull(reassembly);
        Assert.True(reassembly.IsComplete);
        Assert.True(reassembly.ChecksumMatches());
        Assert.Equal(file, reassembly.Data.ToArray());
        Assert.Equal(count / 3 + 1, duplicates);
        Assert.Equal(duplicates, reassembly.Duplicates);
    }

    [Fact]
    public void Parts_of_another_transfer_or_with_other_figures_are_foreign()
    {
        byte[] file = TransferTesting.Bytes(5000);
        uint crc = Crc32.Compute(file);
        var first = UdpChunkHeader.ForPart(Id, 0, file.Length, crc);
        var reassembly = new UdpReassembly(first, TransferProtocol.DefaultMaxFileBytes);
        Assert.Equal(PartOutcome.Stored, reassembly.Add(first, Payload(file, first)));

        var otherId = UdpChunkHeader.ForPart(Id + 1, 1, file.Length, crc);
        var otherCrc = UdpChunkHeader.ForPart(Id, 1, file.Length, crc ^ 1);
        var otherLength = UdpChunkHeader.ForPart(Id, 1, file.Length + 1, crc);
        Assert.Equal(PartOutcome.Foreign, reassembly.Add(otherId, Payload(file, otherId)));
        Assert.Equal(PartOutcome.Foreign, reassembly.Add(otherCrc, Payload(file, otherCrc)));
        Assert.Equal(PartOutcome.Foreign, reassembly.Add(otherLength, new byte[otherLength.PayloadLength]));
        Assert.Equal(1, reassembly.Received);
    }

    [Fact]
    public void Missing_ranges_are_listed_lowest_first()
    {
        byte[] file = TransferTesting.Bytes(120 * 1160);
        uint crc = Crc32.Compute(file);
        UdpReassembly? reassembly = null;
        foreach (int index in Enumerable.Range(0, 120).Where(i => i is not (7 or 40 or 41 or 119) && !(i >= 63 && i <= 65)))
        {
            var header = UdpChunkHeader.ForPart(Id, index, file.Length, crc);
            reassembly ??= new UdpReassembly(header, TransferProtocol.DefaultMaxFileBytes);
            reassembly.Add(header, Payload(file, header));
        }

        Assert.NotNull(reassembly);
        Assert.Equal(7, reassembly.Missing);
        Assert.Equal([new PartRange(7, 1), new PartRange(40, 2), new PartRange(63, 3), new PartRange(119, 1)], reassembly.MissingRanges());
        Span<PartRange> two = new PartRange[2];
        Assert.Equal(2, reassembly.GetMissingRanges(two));
        Assert.Equal("missing 7 of 120 parts: 7, 40-41, 63-65, 119", reassembly.DescribeMissing());
        Assert.False(reassembly.ChecksumMatches());
    }

    [Fact]
    public void Every_part_missing_but_one_is_one_or_two_ranges()
    {
        byte[] file = TransferTesting.Bytes(1000 * 1160);
        var header = UdpChunkHeader.ForPart(Id, 500, file.Length, Crc32.Compute(file));
        var reassembly = new UdpReassembly(header, TransferProtocol.DefaultMaxFileBytes);
        reassembly.Add(header, Payload(file, header));
        Assert.Equal([new PartRange(0, 500), new PartRange(501, 499)], reassembly.MissingRanges());
    }

    [Fact]
    public void A_length_above_the_cap_is_refused_before_allocating()
    {
        long total = 2_000_000_000;
        var header = new UdpChunkHeader(Id, 0, (int)TransferProtocol.PartCount(total), total, 0, TransferProtocol.PartBytes);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<ArgumentOutOfRangeException>(() => new UdpReassembly(header, maxFileBytes: 1024 * 1024));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1024 * 1024);
    }

    private static ReadOnlySpan<byte> Payload(byte[] file, UdpChunkHeader header) =>
        file.AsSpan(header.Index * TransferProtocol.PartBytes, header.PayloadLength);
}
