using System.Net.Sockets;
using SocketCam.Tests.Support;
using SocketCam.Transfer;
using SocketCam.Transport;

namespace SocketCam.Tests.Transfer;

/// <summary>TCP image transfer over real sockets on 127.0.0.1: round trips, and every way a transfer fails without a file.</summary>
[Collection(NetworkCollection.Name)]
public sealed class TcpTransferTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-tcp-").FullName;

    private string Output => Path.Combine(_directory, "received.bin");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(1160)]
    [InlineData(100_000)]
    [InlineData(3_000_000)]
    public async Task A_file_arrives_byte_for_byte(int length)
    {
        byte[] file = TransferTesting.Bytes(length);
        using CancellationTokenSource deadline = TransferTesting.Deadline();
        using var receiver = new TcpImageReceiver(TransferTesting.Loopback0, TransferTesting.Fast);
        Task<TransferReport> receiving = receiver.ReceiveAsync(Output, deadline.Token);

        TransferReport sent = await new TcpImageSender(TransferTesting.Fast).SendAsync(receiver.LocalEndPoint, file, deadline.Token);
        TransferReport received = await receiving;

        Assert.Equal(file, await File.ReadAllBytesAsync(Output));
        Assert.Equal(Crc32.Compute(file), sent.Crc32);
        Assert.Equal(sent.Crc32, received.Crc32);
        Assert.Equal(sent.Sha256, received.Sha256);
        Assert.Equal((long)length, received.Bytes);
        Assert.Empty(TransferTesting.TemporaryFiles(_directory));
    }

    [Fact]
    public async Task A_sender_that_vanishes_mid_file_fails_the_transfer_without_a_file()
    {
        using CancellationTokenSource deadline = TransferTesting.Deadline();
        using var receiver = new TcpImageReceiver(TransferTesting.Loopback0, TransferTesting.Fast);
        Task<TransferReport> receiving = receiver.ReceiveAsync(Output, deadline.Token);
        using (Socket client = await ConnectAsync(receiver))
        {
            byte[] file = TransferTesting.Bytes(100_000);
            await client.SendAllAsync(Offer(file.Length, Crc32.Compute(file)), deadline.Token);
            await client.SendAllAsync(file.AsMemory(0, 500), deadline.Token);
        }

        var error = await Assert.ThrowsAsync<TransferFailedException>(() => receiving);

        Assert.Contains("the sender closed the connection after 500 of 100000 bytes; nothing was written", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Output));
        Assert.Empty(TransferTesting.TemporaryFiles(_directory));
    }

    [Fact]
    public async Task A_sender_that_stalls_mid_file_fails_the_transfer_on_the_timeout()
    {
        using CancellationTokenSource deadline = TransferTesting.Deadline();
        using var receiver = new TcpImageReceiver(TransferTesting.Loopback0, TransferTesting.Fast with { Timeout = TimeSpan.FromMilliseconds(300) });
        Task<TransferReport> receiving = receiver.ReceiveAsync(Output, deadline.Token);
        using Socket client = await ConnectAsync(receiver);
        await client.SendAllAsync(Offer(10_000, 0), deadline.Token);
        await client.SendAllAsync(new byte[10], deadline.Token);

        var error = await Assert.ThrowsAsync<TransferFailedException>(() => receiving);

        Assert.Equal(TransferCode.Timeout, error.Code);
        Assert.Contains("after 10 of 10000 bytes", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Output));
    }

    [Fact]
    public async Task Bytes_that_do_not_match_the_checksum_are_not_written_and_the_sender_is_told()
    {
        using CancellationTokenSource deadline = TransferTesting.Deadline();
        using var receiver = new TcpImageReceiver(TransferTesting.Loopback0, TransferTesting.Fast);
        Task<TransferReport> receiving = receiver.ReceiveAsync(Output, deadline.Token);
        using Socket client = await ConnectAsync(receiver);
        byte[] file = TransferTesting.Bytes(5000);
        await client.SendAllAsync(Offer(file.Length, Crc32.Compute(file) ^ 1), deadline.Token);
        await client.SendAllAsync(file, deadline.Token);

        var error = await Assert.ThrowsAsync<TransferFailedException>(() => receiving);

        Assert.Equal(TransferCode.ChecksumMismatch, error.Code);
        Assert.False(File.Exists(Output));
        byte[] result = new byte[TransferProtocol.TcpResultBytes];
        await client.ReceiveAsync(result, SocketFlags.None, deadline.Token);
        Assert.True(TcpTransferHeader.TryParseResult(result, out TransferCode code, out _));
        Assert.Equal(TransferCode.ChecksumMismatch, code);
    }

    [Fact]
    public async Task Connections_that_are_not_transfers_are_ignored_and_the_next_transfer_succeeds()
    {
        using CancellationTokenSource deadline = TransferTesting.Deadline();
        using var receiver = new TcpImageReceiver(TransferTesting.Loopback0, TransferTesting.Fast);
        Task<TransferReport> receiving = receiver.ReceiveAsync(Output, deadline.Token);
        using (Socket silent = await ConnectAsync(receiver))
        {
            // Closes without a word.
        }

        using (Socket http = await ConnectAsync(receiver))
        {
            await http.SendAllAsync("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"u8.ToArray(), deadline.Token);
            // Closed unanswered (a reset, since the rest of the request was never read).
            try
            {
                Assert.Equal(0, await http.ReceiveAsync(new byte[16], SocketFlags.None, deadline.Token));
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
            {
            }
        }

        byte[] file = TransferTesting.Bytes(20_000);
        await new TcpImageSender(TransferTesting.Fast).SendAsync(receiver.LocalEndPoint, file, deadline.Token);
        await receiving;

        Assert.Equal(file, await File.ReadAllBytesAsync(Output));
    }

    [Fact]
    public async Task A_file_above_the_cap_is_refused_from_its_header_and_the_sender_says_why()
    {
        using CancellationTokenSource deadline = TransferTesting.Deadline();
        using var receiver = new TcpImageReceiver(TransferTesting.Loopback0, TransferTesting.Fast with { MaxFileBytes = 1000 });
        Task<TransferReport> receiving = receiver.ReceiveAsync(Output, deadline.Token);

        var sendError = await Assert.ThrowsAsync<TransferFailedException>(
            () => new TcpImageSender(TransferTesting.Fast).SendAsync(receiver.LocalEndPoint, TransferTesting.Bytes(3_000_000), deadline.Token));
        var receiveError = await Assert.ThrowsAsync<TransferFailedException>(() => receiving);

        Assert.Equal(TransferCode.TooLarge, sendError.Code);
        Assert.Contains("refuses files above 1000 bytes", sendError.Message, StringComparison.Ordinal);
        Assert.Equal(TransferCode.TooLarge, receiveError.Code);
        Assert.False(File.Exists(Output));
    }

    [Fact]
    public async Task A_lying_length_is_refused_before_allocating()
    {
        using CancellationTokenSource deadline = TransferTesting.Deadline();
        using var receiver = new TcpImageReceiver(TransferTesting.Loopback0, TransferTesting.Fast with { MaxFileBytes = 1_000_000 });
        Task<TransferReport> receiving = receiver.ReceiveAsync(Output, deadline.Token);
        using Socket client = await ConnectAsync(receiver);
        long before = GC.GetTotalAllocatedBytes(precise: true);
        await client.SendAllAsync(Offer(2_000_000_000, 0), deadline.Token);

        var error = await Assert.ThrowsAsync<TransferFailedException>(() => receiving);

        Assert.Equal(TransferCode.TooLarge, error.Code);
        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - before < 500_000_000);
    }

    [Fact]
    public async Task Sending_where_nothing_listens_says_to_start_the_receiver()
    {
        int port;
        using (var receiver = new TcpImageReceiver(TransferTesting.Loopback0, TransferTesting.Fast))
        {
            port = receiver.LocalEndPoint.Port;
        }

        using CancellationTokenSource deadline = TransferTesting.Deadline();
        var error = await Assert.ThrowsAsync<TransferFailedException>(
            () => new TcpImageSender(TransferTesting.Fast).SendAsync(new(System.Net.IPAddress.Loopback, port), new byte[] { 1, 2, 3 }, deadline.Token));

        Assert.Contains("connection refused", error.Message, StringComparison.Ordinal);
        Assert.Contains("receive-image --tcp", error.Message, StringComparison.Ordinal);
    }

    private static async Task<Socket> ConnectAsync(TcpImageReceiver receiver)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(receiver.LocalEndPoint);
        return socket;
    }

    private static byte[] Offer(long length, uint crc)
    {
        byte[] header = new byte[TransferProtocol.TcpOfferBytes];
        TcpTransferHeader.WriteOffer(header, length, crc);
        return header;
    }
}
