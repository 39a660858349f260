using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace SocketCam.Tests.Support;

/// <summary>What a <see cref="UdpRelay"/> does to the datagrams of one direction; decisions come from a seeded Random.</summary>
internal sealed record RelayFaults
{
    public static readonly RelayFaults None = new();

    /// <summary>Probability of dropping a datagram.</summary>
    public double Drop { get; init; }

    /// <summary>Probability of sending a datagram twice.</summary>
    public double Duplicate { get; init; }

    /// <summary>Probability of holding a datagram back and sending it after the next one.</summary>
    public double Reorder { get; init; }

    public int Seed { get; init; } = 1;

    /// <summary>DATA datagrams (image transfer) with these part indexes are dropped every time.</summary>
    public IReadOnlySet<int> AlwaysDropParts { get; init; } = new HashSet<int>();

    /// <summary>Datagrams this says yes to are dropped every time (e.g. every FRAGMENT of one frame, resends included).</summary>
    public Func<byte[], bool>? DropWhen { get; init; }
}

/// <summary>
/// A UDP relay on 127.0.0.1 between a sender and a receiver that drops, duplicates and reorders datagrams
/// deterministically (seeded). The sender sends to <see cref="EndPoint"/>; the relay forwards to the receiver from its
/// own socket and forwards the receiver's answers back to the last address the sender used.
/// </summary>
internal sealed class UdpRelay : IAsyncDisposable
{
    private readonly Socket _front = Bind();
    private readonly Socket _back = Bind();
    private readonly IPEndPoint _receiver;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _toReceiver;
    private readonly Task _toSender;
    private readonly Lock _lock = new();
    private EndPoint? _sender;
    private long _forwarded;
    private long _dropped;
    private long _duplicated;
    private long _reordered;

    private UdpRelay(IPEndPoint receiver, RelayFaults toReceiver, RelayFaults toSender)
    {
        _receiver = receiver;
        _toReceiver = Task.Run(() => PumpAsync(_front, _back, toReceiver, towardsReceiver: true));
        _toSender = Task.Run(() => PumpAsync(_back, _front, toSender, towardsReceiver: false));
    }

    public IPEndPoint EndPoint => (IPEndPoint)_front.LocalEndPoint!;

    public long Forwarded => Interlocked.Read(ref _forwarded);

    public long Dropped => Interlocked.Read(ref _dropped);

    public long Duplicated => Interlocked.Read(ref _duplicated);

    public long Reordered => Interlocked.Read(ref _reordered);

    public static UdpRelay Start(IPEndPoint receiver, RelayFaults? toReceiver = null, RelayFaults? toSender = null) =>
        new(receiver, toReceiver ?? RelayFaults.None, toSender ?? RelayFaults.None);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _front.Dispose();
        _back.Dispose();
        await Task.WhenAll(_toReceiver, _toSender).WaitAsync(TestHub.Timeout);
        _stop.Dispose();
    }

    private async Task PumpAsync(Socket from, Socket to, RelayFaults faults, bool towardsReceiver)
    {
        var random = new Random(faults.Seed);
        byte[] buffer = new byte[65536];
        byte[]? held = null;
        EndPoint any = new IPEndPoint(IPAddress.Any, 0);
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                SocketReceiveFromResult result;
                try
                {
                    result = await from.ReceiveFromAsync(buffer, SocketFlags.None, any, _stop.Token);
                }
                catch (SocketException) when (!_stop.IsCancellationRequested)
                {
                    // An ICMP error for an earlier datagram: keep relaying.
                    continue;
                }

                byte[] datagram = buffer.AsSpan(0, result.ReceivedBytes).ToArray();
                EndPoint? destination;
                lock (_lock)
                {
                    if (towardsReceiver)
                    {
                        _sender = result.RemoteEndPoint;
                    }

                    destination = towardsReceiver ? _receiver : _sender;
                }

                if (destination is null)
                {
                    continue;
                }

                // Every decision draws the same numbers, so one datagram's fate does not shift the next one's.
                double drop = random.NextDouble();
                double duplicate = random.NextDouble();
                double reorder = random.NextDouble();
                if (drop < faults.Drop || (DataPart(datagram) is { } part && faults.AlwaysDropParts.Contains(part)) || faults.DropWhen?.Invoke(datagram) == true)
                {
                    Interlocked.Increment(ref _dropped);
                    continue;
                }

                if (held is null && reorder < faults.Reorder)
                {
                    held = datagram;
                    Interlocked.Increment(ref _reordered);
                    continue;
                }

                await SendAsync(to, datagram, destination);
                if (duplicate < faults.Duplicate)
                {
                    Interlocked.Increment(ref _duplicated);
                    await SendAsync(to, datagram, destination);
                }

                if (held is not null)
                {
                    await SendAsync(to, held, destination);
                    held = null;
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (ObjectDisposedException) when (_stop.IsCancellationRequested)
        {
        }
        catch (SocketException) when (_stop.IsCancellationRequested)
        {
        }
    }

    private async Task SendAsync(Socket socket, byte[] datagram, EndPoint destination)
    {
        try
        {
            await socket.SendToAsync(datagram, SocketFlags.None, destination, _stop.Token);
            Interlocked.Increment(ref _forwarded);
        }
        catch (SocketException)
        {
            // The far side is gone (port unreachable): like a lost datagram.
        }
    }

    /// <summary>The part index of an image transfer DATA datagram, or null for anything else.</summary>
    private static int? DataPart(byte[] datagram) =>
        datagram.Length >= 40 && BinaryPrimitives.ReadUInt32BigEndian(datagram) == 0x5343494D && datagram[5] == 0x01
            ? (int)BinaryPrimitives.ReadUInt32BigEndian(datagram.AsSpan(16))
            : null;

    private static Socket Bind()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }
}
