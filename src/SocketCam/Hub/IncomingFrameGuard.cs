using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;
using SocketCam.Limits;
using SocketCam.Protocol;

using SocketCam.Rooms;

namespace SocketCam.Hub;

/// <summary>
/// The limits on a publisher's VIDEO_FRAME while it is still arriving (docs/PROTOCOL.md §1.3), for one connection's
/// receive loop.
/// <para>
/// Budget: the frame's bytes are reserved from the hub's frames-in-flight budget before the loop lets its pipe read (and
/// buffer) more: the reservation always covers what the pipe may hold for the frame after its next read, i.e. what is in
/// plus one read (<see cref="ReadSize"/>), capped at the announced length. Reserving as data arrives rather than the
/// announced length up front keeps the figure equal to the memory really held: a peer must send bytes to hold budget
/// (announcing 16 MiB costs nothing until it is sent), and a small frame reserves only its size.
/// </para>
/// <para>
/// Data rate: from the moment its header is read, the frame must gain at least <see cref="LimitOptions.MinFrameDataRate"/>
/// over each <see cref="LimitOptions.MinDataRateGrace"/> window (a timer wakes the read at the window's end, so silence is
/// caught too). Time the hub spends waiting for budget starts the window over: that wait is the hub's, not the peer's.
/// </para>
/// </summary>
internal sealed class IncomingFrameGuard : IDisposable
{
    /// <summary>The most one read adds to the pipe: <see cref="HubConnection"/>'s PipeReader buffer size.</summary>
    public const int ReadSize = 128 * 1024;

    private static readonly TimeSpan BudgetPoll = TimeSpan.FromMilliseconds(20);

    private readonly ServerGuards _guards;
    private readonly AddressKey? _address;
    private readonly PipeReader _reader;
    private readonly MinimumDataRate _rate;
    private Timer? _timer;
    private long _reserved;

    public IncomingFrameGuard(ServerGuards guards, AddressKey? address, PipeReader reader)
    {
        _guards = guards;
        _address = address;
        _reader = reader;
        _rate = new MinimumDataRate(guards.Options);
    }

    /// <summary>Bytes this connection holds of the budget now.</summary>
    public long Reserved => _reserved;

    /// <summary>
    /// Before the next read, while the first unread message is a frame not yet complete: <paramref name="buffered"/> of its
    /// <paramref name="announced"/> bytes (message header included) are in. Throws <see cref="ProtocolException"/>
    /// (`too-slow`) when the window that just ended was below the minimum rate and `over-budget` when there is no budget
    /// for the next read (at once when this address holds its share; when the hub-wide budget is spent, after waiting up
    /// to one window, or two for a connection that holds none of it yet).
    /// </summary>
    public async ValueTask BeforeReadAsync(long announced, long buffered, CancellationToken cancellationToken)
    {
        long now = Stopwatch.GetTimestamp();
        if (!_rate.InProgress)
        {
            _rate.Restart(now, buffered);
        }
        else if (_rate.WindowEnded(now, buffered, out string? tooSlow) && tooSlow is not null)
        {
            _guards.Refusals.Count(Refusal.DataRateTooLow);
            throw new ProtocolException(ErrorCode.TooSlow, string.Create(
                CultureInfo.InvariantCulture, $"{tooSlow} (a frame in progress, measured over {_rate.Window.TotalSeconds:0.#} s)"));
        }

        long wanted = Math.Min(announced, buffered + ReadSize);
        if (wanted > _reserved && await ReserveAsync(wanted - _reserved, cancellationToken))
        {
            // The hub made the peer wait: that time does not count against its rate.
            _rate.Restart(Stopwatch.GetTimestamp(), buffered);
        }

        ArmTimer();
    }

    /// <summary>The frame is complete (its bytes were taken out of the pipe's care) or abandoned: its reservation is given back.</summary>
    public void FrameDone()
    {
        if (!_rate.InProgress && _reserved == 0)
        {
            return;
        }

        _rate.End();
        _timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        Release();
    }

    public void Dispose()
    {
        _timer?.Dispose();
        _timer = null;
        Release();
    }

    /// <summary>Wakes the loop's read at the window's end even if the peer sends nothing at all.</summary>
    private void ArmTimer()
    {
        if (_rate.Rate <= 0)
        {
            return;
        }

        TimeSpan left = _rate.Left(Stopwatch.GetTimestamp());
        _timer ??= new Timer(static state => CancelRead((PipeReader)state!), _reader, Timeout.Infinite, Timeout.Infinite);
        _timer.Change(left > TimeSpan.Zero ? left + TimeSpan.FromMilliseconds(5) : TimeSpan.FromMilliseconds(5), Timeout.InfiniteTimeSpan);
    }

    private static void CancelRead(PipeReader reader)
    {
        try
        {
            // The read returns IsCanceled and the loop calls BeforeReadAsync again, which measures the window.
            reader.CancelPendingRead();
        }
        catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException)
        {
            // The connection finished meanwhile.
        }
    }

    /// <summary>Reserves; true when it had to wait for the hub-wide budget.</summary>
    private async ValueTask<bool> ReserveAsync(long bytes, CancellationToken cancellationToken)
    {
        ByteBudget budget = _guards.FramesInFlight;
        long waitUntil = 0;
        while (!budget.TryReserve(_address, bytes))
        {
            if (_address is { } address && budget.InUseBy(address) + bytes > budget.PerAddress)
            {
                // This address's own frames hold its share: waiting would only let it keep them.
                _guards.Refusals.Count(Refusal.FrameBudget);
                throw new ProtocolException(ErrorCode.OverBudget, string.Create(
                    CultureInfo.InvariantCulture,
                    $"frames in flight from {address} would pass {Mib(budget.PerAddress)}, the limit per address"));
            }

            long now = Stopwatch.GetTimestamp();
            if (waitUntil == 0)
            {
                // One holding none of the budget waits two windows, one partway through its frame one: the waiting
                // costs nothing until it holds some, and those that hold budget while they wait are refused first.
                waitUntil = now + (long)((_reserved == 0 ? 2 : 1) * _rate.Window.TotalSeconds * Stopwatch.Frequency);
            }
            else if (now >= waitUntil)
            {
                _guards.Refusals.Count(Refusal.FrameBudget);
                throw new ProtocolException(ErrorCode.OverBudget, string.Create(
                    CultureInfo.InvariantCulture,
                    $"the hub holds {Mib(budget.Total)} of frames in flight, its limit; try again later"));
            }

            await Task.Delay(BudgetPoll, cancellationToken).ConfigureAwait(false);
        }

        _reserved += bytes;
        return waitUntil != 0;
    }

    private void Release()
    {
        if (_reserved == 0)
        {
            return;
        }

        _guards.FramesInFlight.Release(_address, _reserved);
        _reserved = 0;
    }

    private static string Mib(long bytes) => bytes % (1 << 20) == 0
        ? string.Create(CultureInfo.InvariantCulture, $"{bytes >> 20} MiB")
        : string.Create(CultureInfo.InvariantCulture, $"{bytes} bytes");

    /// <summary>
    /// The announced length (message header included) when <paramref name="buffer"/> starts with an incomplete message of
    /// <paramref name="frameType"/> (v1 VIDEO_FRAME or v2 FRAME): what the receive loops reserve from the budget before reading on.
    /// </summary>
    public static long? PartialFrameLength(in ReadOnlySequence<byte> buffer, MessageType frameType)
    {
        if (buffer.Length < ProtocolConstants.MessageHeaderSize)
        {
            return null;
        }

        // The header was checked against its cap already (the parsers throw for a too-large one, complete or not).
        Span<byte> header = stackalloc byte[ProtocolConstants.MessageHeaderSize];
        buffer.Slice(0, ProtocolConstants.MessageHeaderSize).CopyTo(header);
        if ((MessageType)header[0] != frameType)
        {
            return null;
        }

        return ProtocolConstants.MessageHeaderSize + (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(header[4..]);
    }
}
