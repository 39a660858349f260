using System.Net;
using System.Net.Sockets;
using SocketCam.Tests.Support;
using SocketCam.Transfer;

namespace SocketCam.Tests.Transfer;

/// <summary>
/// UDP image transfer over real sockets on 127.0.0.1: round trips, recovery through a lossy relay, and failures that
/// name the missing parts and leave no file.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class UdpTransferTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-udp-").FullName;

    private string Output => Path.Combine(_directory, "received.bin");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(1160)]
    [InlineData(1161)]
    [InlineData(100_000)]
    [InlineData(3_000_000)]
    public async Task A_file_arrives_byte_for_byte(int length)
    {
        byte[] file = TransferTesting.Bytes(length);
        using CancellationTokenSource deadline = TransferTesting.Deadline();
        using var receiver = new UdpImageReceiver(TransferTesting.Loopback0, TransferTesting.Fast);
        TransferReport? written = null;
        Task<TransferReport> receiving = receiver.ReceiveAsync(Output, r => written = r, deadline.Token);
        using var sender = new UdpImageSender(receiver.LocalEndPoint, file, TransferTesting.Fast);

        TransferReport sent = await sender.SendAsync(deadline.Token);
        TransferReport received = await receiving;

        Assert.Equal(file, await File.ReadAllBytesAsync(Output));
        Assert.Same(received, written);
        Assert.Equal(Crc32.Compute(file), sent.Crc32);
        Assert.Equal(sent.Crc32, received.Crc32);
        Assert.Equal(sent.Sha256, received.Sha256);
        Assert.Equal((long)length, received.Bytes);
        Assert.Equal(TransferProtocol.PartCount(length), received.Parts);
        Assert.True(sent.Datagrams >= sent.Parts);
        Assert.Empty(TransferTesting.TemporaryFiles(_directory));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Dropped_duplicated_and_reordered_datagrams_are_recovered(int seed)
    {
        byte[] file = TransferTesting.Bytes(300_000, seed);
        var faults = new RelayFaults { Drop = 0.1, Duplicate = 0.05, Reorder = 0.1, Seed = seed };
        using CancellationTokenSource deadline = TransferTesting.Deadline();
        using var receiver = new UdpImageReceiver(TransferTesting.Loopback0, TransferTesting.Fast);
        await using var relay = UdpRelay.Start(receiver.LocalEndPoint, faults, faults with { Seed = seed + 100 });
        Task<TransferReport> receiving = receiver.ReceiveAsync(Output, null, deadline.Token);
        using var sender = new UdpImageSender(relay.EndPoint, file, TransferTesting.Fast);

        TransferReport sent = await sender.SendAsync(deadline.Token);
        TransferReport received = await receiving;

        Assert.Equal(file, await File.ReadAllBytesAsync(Output));
        Assert.True(relay.Dropped > 0 && relay.Duplicated > 0 && relay.Reordered > 0, "the relay did nothing");
        Assert.True(sent.Retransmitted > 0, "nothing was retransmitted");
        Assert.True(received.Nacks > 0, "no NACK was sent");
        Assert.True(received.Duplicates > 0, "no duplicate was seen");
        Assert.Empty(TransferTesting.TemporaryFiles(_directory));
    }

    [Fact]
    public async Task Parts_the_path_always_drops_fail_both_sides_naming_them_and_write_nothing()
    {
        byte[] file = TransferTesting.Bytes(120 * TransferProtocol.PartBytes);
        var faults = new RelayFaults { AlwaysDropParts = new HashSet<int> { 7, 40, 41 } };
        using CancellationTokenSource deadline = TransferTesting.Deadline();
        using var receiver = new UdpImageReceiver(TransferTesting.Loopback0, TransferTesting.Fast);
        await using var relay = UdpRelay.Start(receiver.LocalEndPoint, faults);
        Task<TransferReport> receiving = receiver.ReceiveAsync(Output, null, deadline.Token);
        using var sender = new UdpImageSender(relay.EndPoint, file, TransferTesting.Fast with { MaxStalledRounds = 3 });

        var sendError = await Assert.ThrowsAsync<TransferFailedException>(() => sender.SendAsync(deadline.Token));
        var receiveError = await Assert.ThrowsAsync<TransferFailedException>(() => receiving);

        Assert.Equal(TransferCode.GaveUp, sendError.Code);
        Assert.Contains("missing 3 of 120 parts: 7, 40-41", sendError.Message, StringComparison.Ordinal);
        Assert.Equal(TransferCode.GaveUp, receiveError.Code);
        Assert.Contains("missing 3 of 120 parts: 7, 40-41", receiveError.Message, StringComparison.Ordinal);
        Assert.Contains("Nothing was written", receiveError.Message, StringComparison.Ordinal);
        Assert.Equal([new PartRange(7, 1), new PartRange(40, 2)], receiveError.Missing);
        Assert.False(File.Exists(Output));
        Assert.Empty(TransferTesting.TemporaryFiles(_directory));
    }

    [Fact]
    public async Task A_sender_that_vanishes_leaves_the_receiver_failing_on_its_timeout_naming_the_missing_parts()
    {
        byte[] file = TransferTesting.Bytes(20 * TransferProtocol.PartBytes);
        uint crc = Crc32.Compute(file);
        using CancellationTokenSource deadline = TransferTesting.Deadline();
        using var receiver = new UdpImageReceiver(TransferTesting.Loopback0, TransferTesting.Fast with { Timeout = TimeSpan.FromSeconds(1) });
        Task<TransferReport> receiving = receiver.ReceiveAsync(Output, null, deadline.Token);
        using var peer = Peer();
        const ulong id = 99;
        foreach (int index in Enumerable.Range(0, 10).Append(15))
        {
            await peer.SendToAsync(Data(id, index, file, crc), receiver.LocalEndPoint);
        }

        var error = await Assert.ThrowsAsync<TransferFailedException>(() => receiving);

        Assert.Equal(TransferCode.Timeout, error.Code);
        Assert.Contains("nothing heard from the sender for 1 s; missing 9 of 20 parts: 10-14, 16-19.", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Output));
        Assert.Empty(TransferTesting.TemporaryFiles(_directory));
        // It asked for the missing parts before giving up.
        Assert.True(peer.Available > 0, "the receiver sent no NACK");
    }

    [Fact]
    public async Task Stray_datagrams_are_ignored_and_parts_may_come_in_any_order()
    {
        byte[] file = TransferTesting.Bytes(10 * TransferProtocol.PartBytes + 5);
        uint crc = Crc32.Compute(file);
        const ulong id = 1234;
        using CancellationTokenSource deadline = TransferTesting.Deadline();
        // No DONE will come from this hand-made sender: a short linger.
        using var receiver = new UdpImageReceiver(TransferTesting.Loopback0, TransferTesting.Fast with { AckLinger = TimeSpan.FromMilliseconds(100) });
        Task<TransferReport> receiving = receiver.ReceiveAsync(Output, null, deadline.Token);
        using var peer = Peer();
        using var stranger = Peer();
        IPEndPoint to = receiver.LocalEndPoint;

        // Garbage before anything else is ignored (it does not start a transfer)...
        await stranger.SendToAsync(TransferTesting.Bytes(700, seed: 1), to);
        await stranger.SendToAsync("SCIM"u8.ToArray(), to);
        await peer.SendToAsync(Data(id, 10, file, crc), to);
        // ...and so are, once the transfer started, other transfers, inconsistent headers, wrong checksums and garbage.
        await stranger.SendToAsync(Data(id + 1, 3, TransferTesting.Bytes(file.Length, seed: 2), crc), to);
        await peer.SendToAsync(Data(id, 3, file, crc ^ 0xFF), to);
        byte[] lying = Data(id, 4, file, crc);
        lying[23] ^= 1;
        await peer.SendToAsync(lying, to);
        await stranger.SendToAsync(TransferTesting.Bytes(1200, seed: 3), to);
        foreach (int index in new[] { 9, 0, 5, 5, 1, 8, 2, 0, 3, 7, 6 })
        {
            await peer.SendToAsync(Data(id, index, file, crc), to);
        }

        await peer.SendToAsync(Data(id, 4, file, crc), to);
        TransferReport received = await receiving;

        Assert.Equal(file, await File.ReadAllBytesAsync(Output));
        Assert.Equal(2, received.Duplicates);
        Assert.True(received.Ignored >= 6, $"ignored {received.Ignored}");
        Assert.Equal(11, received.Parts);
        // The ACK went to the sender of the parts (after any NACK it sent while we were slow), not to the stranger.
        byte[] answer = new byte[2048];
        long total;
        uint ackCrc;
        int n;
        do
        {
            n = await peer.ReceiveAsync(answer, SocketFlags.None, deadline.Token);
        }
        while (!TransferControl.TryParseAck(answer.AsSpan(0, n), out total, out ackCrc));

        Assert.Equal((file.LongLength, crc), (total, ackCrc));
        Assert.Equal(0, stranger.Available);
    }

    [Fact]
    public async Task A_file_above_the_receivers_cap_is_refused_from_its_header_on_both_sides()
    {
        byte[] file = TransferTesting.Bytes(50_000);
        using CancellationTokenSource deadline = TransferTesting.Deadline();
        using var receiver = new UdpImageReceiver(TransferTesting.Loopback0, TransferTesting.Fast with { MaxFileBytes = 10_000 });
        Task<TransferReport> receiving = receiver.ReceiveAsync(Output, null, deadline.Token);
        using var sender = new UdpImageSender(receiver.LocalEndPoint, file, TransferTesting.Fast);

        var sendError = await Assert.ThrowsAsync<TransferFailedException>(() => sender.SendAsync(deadline.Token));
        var receiveError = await Assert.ThrowsAsync<TransferFailedException>(() => receiving);

        Assert.Equal(TransferCode.TooLarge, sendError.Code);
        Assert.Contains("refuses files above 10000 bytes", sendError.Message, StringComparison.Ordinal);
        Assert.Equal(TransferCode.TooLarge, receiveError.Code);
        Assert.Contains("the limit is 10000 bytes", receiveError.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Output));
    }

    [Fact]
    public async Task A_lying_total_length_is_refused_before_allocating()
    {
        const long total = 2_000_000_000;
        using CancellationTokenSource deadline = TransferTesting.Deadline();
        using var receiver = new UdpImageReceiver(TransferTesting.Loopback0, TransferTesting.Fast with { MaxFileBytes = 1_000_000 });
        Task<TransferReport> receiving = receiver.ReceiveAsync(Output, null, deadline.Token);
        using var peer = Peer();
        var header = new UdpChunkHeader(5, 0, (int)TransferProtocol.PartCount(total), total, 0, TransferProtocol.PartBytes);
        byte[] datagram = new byte[TransferProtocol.MaxDatagramBytes];
        header.Write(datagram);
        long before = GC.GetTotalAllocatedBytes(precise: true);

        await peer.SendToAsync(datagram, receiver.LocalEndPoint);
        var error = await Assert.ThrowsAsync<TransferFailedException>(() => receiving);

        Assert.Equal(TransferCode.TooLarge, error.Code);
        // Other tests may allocate meanwhile, but nowhere near the 2 GB the header asked for.
        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - before < 500_000_000);
        byte[] answer = new byte[2048];
        int n = await peer.ReceiveAsync(answer, SocketFlags.None, deadline.Token);
        Assert.True(TransferControl.TryParseAbort(answer.AsSpan(0, n), out TransferCode code, out ulong cap));
        Assert.Equal((TransferCode.TooLarge, 1_000_000UL), (code, cap));
    }

    [Fact]
    public async Task Sending_where_nothing_listens_fails_at_once_with_a_hint()
    {
        IPEndPoint nobody;
        using (Socket probe = Peer())
        {
            nobody = (IPEndPoint)probe.LocalEndPoint!;
        }

        using CancellationTokenSource deadline = TransferTesting.Deadline();
        using var sender = new UdpImageSender(nobody, TransferTesting.Bytes(100_000), TransferTesting.Fast);

        var error = await Assert.ThrowsAsync<TransferFailedException>(() => sender.SendAsync(deadline.Token));

        Assert.Contains("nothing is listening at udp://127.0.0.1:", error.Message, StringComparison.Ordinal);
        Assert.Contains("receive-image --udp", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_receiver_with_a_start_timeout_gives_up_when_no_sender_comes()
    {
        using CancellationTokenSource deadline = TransferTesting.Deadline();
        using var receiver = new UdpImageReceiver(TransferTesting.Loopback0, TransferTesting.Fast with { StartTimeout = TimeSpan.FromMilliseconds(200) });

        var error = await Assert.ThrowsAsync<TransferFailedException>(() => receiver.ReceiveAsync(Output, null, deadline.Token));

        Assert.Equal(TransferCode.Timeout, error.Code);
        Assert.Contains("no transfer arrived", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Output));
    }

    [Fact]
    public async Task A_cancelled_sender_tells_the_receiver_which_fails_without_a_file()
    {
        byte[] file = TransferTesting.Bytes(120 * TransferProtocol.PartBytes);
        // Part 0 never arrives, so the receiver cannot finish while the sender is still running.
        var faults = new RelayFaults { AlwaysDropParts = new HashSet<int> { 0 } };
        using CancellationTokenSource deadline = TransferTesting.Deadline();
        using var receiver = new UdpImageReceiver(TransferTesting.Loopback0, TransferTesting.Fast with { Timeout = TimeSpan.FromSeconds(20) });
        await using var relay = UdpRelay.Start(receiver.LocalEndPoint, faults);
        Task<TransferReport> receiving = receiver.ReceiveAsync(Output, null, deadline.Token);
        using var stop = new CancellationTokenSource();
        using var sender = new UdpImageSender(relay.EndPoint, file, TransferTesting.Fast with { MaxStalledRounds = 1000 });
        Task sending = sender.SendAsync(stop.Token);
        while (relay.Forwarded < 60)
        {
            await Task.Delay(10, deadline.Token);
        }

        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sending);
        var error = await Assert.ThrowsAsync<TransferFailedException>(() => receiving);

        Assert.Equal(TransferCode.Cancelled, error.Code);
        Assert.Contains("the sender was interrupted", error.Message, StringComparison.Ordinal);
        Assert.Contains("missing", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Output));
    }

    private static Socket Peer()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(TransferTesting.Loopback0);
        return socket;
    }

    private static byte[] Data(ulong id, int index, byte[] file, uint crc)
    {
        var header = UdpChunkHeader.ForPart(id, index, file.Length, crc);
        byte[] datagram = new byte[TransferProtocol.DataHeaderBytes + header.PayloadLength];
        header.Write(datagram);
        file.AsSpan(index * TransferProtocol.PartBytes, header.PayloadLength).CopyTo(datagram.AsSpan(TransferProtocol.DataHeaderBytes));
        return datagram;
    }
}
