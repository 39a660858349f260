using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace SocketCam.Transfer;

/// <summary>
/// Receives one file over UDP (docs/PROTOCOL.md §2.1): parts in any order, duplicates and stray datagrams ignored, NACKs
/// when the sender goes quiet, the file written (atomically) only when every part is there and the CRC-32 matches, then
/// ACK. Otherwise it fails with a <see cref="TransferFailedException"/> naming the missing parts and writes nothing.
/// The socket is bound by the constructor, so <see cref="LocalEndPoint"/> is known before receiving starts.
/// </summary>
internal sealed class UdpImageReceiver : IDisposable
{
    /// <summary>Asked of the kernel (it may give less): room for a burst while this process is busy elsewhere.</summary>
    private const int ReceiveBufferBytes = 4 * 1024 * 1024;

    /// <summary>During the linger, at most one ACK per this many milliseconds (a probe burst gets one answer).</summary>
    private const int AckRepeatMilliseconds = 10;

    private readonly ImageTransferOptions _options;
    private readonly ILogger _logger;
    private readonly Socket _socket;
    private readonly byte[] _rx = new byte[64 * 1024];
    private readonly byte[] _tx = new byte[TransferProtocol.MaxDatagramBytes];
    private readonly PartRange[] _ranges = new PartRange[TransferProtocol.MaxNackRanges];
    private readonly EndPoint _anyRemote;
    private int _started;

    public UdpImageReceiver(IPEndPoint listen, ImageTransferOptions? options = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(listen);
        _options = options ?? new ImageTransferOptions();
        _options.Validate();
        _logger = logger ?? NullLogger.Instance;
        _anyRemote = new IPEndPoint(listen.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        _socket = new Socket(listen.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            _socket.ReceiveBufferSize = ReceiveBufferBytes;
            _socket.Bind(listen);
        }
        catch
        {
            _socket.Dispose();
            throw;
        }
    }

    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    /// <summary>
    /// Receives one file into <paramref name="outputPath"/>. <paramref name="written"/> runs as soon as the file is
    /// written and acknowledged; the call then lingers (up to <see cref="ImageTransferOptions.AckLinger"/>, until DONE)
    /// to repeat the ACK to a sender that did not get it.
    /// </summary>
    public async Task<TransferReport> ReceiveAsync(string outputPath, Action<TransferReport>? written, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("A UdpImageReceiver receives once.");
        }

        AtomicFile.CheckWritable(outputPath);
        using var timer = new ResettableTimeout(cancellationToken);
        long listening = Stopwatch.GetTimestamp();
        var state = new Progress();
        while (true)
        {
            TimeSpan wait = NextWait(state, listening);
            SocketReceiveFromResult result;
            try
            {
                result = await _socket.ReceiveFromAsync(_rx, SocketFlags.None, _anyRemote, timer.Arm(wait));
            }
            catch (OperationCanceledException) when (timer.Expired)
            {
                OnQuiet(state, outputPath);
                continue;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionRefused)
            {
                // An ICMP error for an earlier answer: nothing to receive.
                continue;
            }

            ReadOnlySpan<byte> datagram = _rx.AsSpan(0, result.ReceivedBytes);
            EndPoint remote = result.RemoteEndPoint;
            if (!TransferProtocol.TryReadDatagramPrefix(datagram, out TransferMessageType type, out ulong transferId))
            {
                Ignore(state, remote, "not an image transfer datagram");
                continue;
            }

            if (type == TransferMessageType.Data)
            {
                if (OnData(state, datagram, remote, outputPath))
                {
                    return await FinishAsync(state, outputPath, written, timer, cancellationToken);
                }

                continue;
            }

            if (state.Transfer is { } transfer && transferId == transfer.TransferId && type == TransferMessageType.Abort
                && TransferControl.TryParseAbort(datagram, out TransferCode code, out _))
            {
                string why = code switch
                {
                    TransferCode.GaveUp => "the sender gave up",
                    TransferCode.Cancelled => "the sender was interrupted",
                    _ => $"the sender ended it ({TransferProtocol.Describe(code)})",
                };
                throw Failed(code, state, outputPath, why);
            }

            Ignore(state, remote, $"unexpected {type}");
        }
    }

    public void Dispose() => _socket.Dispose();

    /// <summary>How long to wait for the next datagram: until the start timeout, the next NACK or the silence timeout.</summary>
    private TimeSpan NextWait(Progress state, long listening)
    {
        if (state.Transfer is null)
        {
            return _options.StartTimeout == Timeout.InfiniteTimeSpan
                ? Timeout.InfiniteTimeSpan
                : Max(TimeSpan.Zero, _options.StartTimeout - Stopwatch.GetElapsedTime(listening));
        }

        long now = Stopwatch.GetTimestamp();
        TimeSpan toNack = Stopwatch.GetElapsedTime(now, state.NextNackAt);
        TimeSpan toTimeout = _options.Timeout - Stopwatch.GetElapsedTime(state.LastHeard, now);
        return Max(TimeSpan.Zero, toNack < toTimeout ? toNack : toTimeout);
    }

    /// <summary>Nothing arrived in time: fail if the sender is silent for too long (or never started), otherwise NACK.</summary>
    private void OnQuiet(Progress state, string outputPath)
    {
        if (state.Transfer is not { } transfer)
        {
            throw new TransferFailedException(TransferCode.Timeout, string.Create(CultureInfo.InvariantCulture,
                $"no transfer arrived at udp://{LocalEndPoint} within {_options.StartTimeout.TotalSeconds:0.#} s; nothing was written to {outputPath}."));
        }

        if (Stopwatch.GetElapsedTime(state.LastHeard) >= _options.Timeout)
        {
            TrySend(TransferControl.WriteAbort(_tx, transfer.TransferId, TransferCode.Timeout, 0), state.Peer!);
            throw Failed(TransferCode.Timeout, state, outputPath, string.Create(CultureInfo.InvariantCulture,
                $"nothing heard from the sender for {_options.Timeout.TotalSeconds:0.#} s"));
        }

        int n = transfer.GetMissingRanges(_ranges);
        state.NackSequence++;
        TrySend(TransferControl.WriteNack(_tx, transfer.TransferId, transfer.Missing, state.NackSequence, _ranges.AsSpan(0, n)), state.Peer!);
        state.Nacks++;
        TransferLog.NackSent(_logger, state.NackSequence, transfer.Missing, n);
        state.NackInterval = Min(state.NackInterval * 2, _options.MaxNackInterval);
        state.NextNackAt = Stopwatch.GetTimestamp() + (long)(state.NackInterval.TotalSeconds * Stopwatch.Frequency);
    }

    /// <summary>A DATA datagram: start the transfer (if it is the first valid one) or add the part. True when complete.</summary>
    private bool OnData(Progress state, ReadOnlySpan<byte> datagram, EndPoint remote, string outputPath)
    {
        if (!UdpChunkHeader.TryParse(datagram, out UdpChunkHeader header, out ReadOnlySpan<byte> payload, out string? error))
        {
            Ignore(state, remote, error!);
            return false;
        }

        if (state.Transfer is null)
        {
            if (header.TotalLength > _options.MaxFileBytes)
            {
                // Refused from the header alone: nothing was allocated.
                TrySend(TransferControl.WriteAbort(_tx, header.TransferId, TransferCode.TooLarge, (ulong)_options.MaxFileBytes), remote);
                throw new TransferFailedException(TransferCode.TooLarge,
                    $"refused a {header.TotalLength}-byte file from udp://{remote}: the limit is {_options.MaxFileBytes} bytes (--max-bytes); nothing was written to {outputPath}.");
            }

            state.Transfer = new UdpReassembly(header, _options.MaxFileBytes);
            state.Started = Stopwatch.GetTimestamp();
            TransferLog.Receiving(_logger, header.TotalLength, $"udp://{remote}");
            TransferLog.UdpTransfer(_logger, header.TransferId, header.Count);
        }

        UdpReassembly transfer = state.Transfer;
        PartOutcome outcome = transfer.Add(header, payload);
        if (outcome == PartOutcome.Foreign)
        {
            Ignore(state, remote, "another transfer");
            return false;
        }

        state.Datagrams++;
        state.Peer = remote;
        long now = Stopwatch.GetTimestamp();
        state.LastHeard = now;
        if (outcome == PartOutcome.Stored)
        {
            state.NackInterval = _options.NackDelay;
        }

        state.NextNackAt = now + (long)(_options.NackDelay.TotalSeconds * Stopwatch.Frequency);
        return transfer.IsComplete;
    }

    private async Task<TransferReport> FinishAsync(Progress state, string outputPath, Action<TransferReport>? written, ResettableTimeout timer, CancellationToken cancellationToken)
    {
        UdpReassembly transfer = state.Transfer!;
        EndPoint peer = state.Peer!;
        TimeSpan elapsed = Stopwatch.GetElapsedTime(state.Started);
        uint actual = Crc32.Compute(transfer.Data.Span);
        if (actual != transfer.Crc32)
        {
            TrySend(TransferControl.WriteAbort(_tx, transfer.TransferId, TransferCode.ChecksumMismatch, 0), peer);
            throw new TransferFailedException(TransferCode.ChecksumMismatch,
                $"transfer from udp://{peer} failed: all {transfer.Count} parts arrived but their CRC-32 is {Crc32.Format(actual)}, not the announced {Crc32.Format(transfer.Crc32)} (the file changed while it was sent, or was damaged); nothing was written to {outputPath}.");
        }

        try
        {
            await AtomicFile.WriteAsync(outputPath, transfer.Data, cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            TrySend(TransferControl.WriteAbort(_tx, transfer.TransferId, TransferCode.WriteFailed, 0), peer);
            throw;
        }

        int ackLength = TransferControl.WriteAck(_tx, transfer.TransferId, transfer.TotalLength, transfer.Crc32);
        TrySend(ackLength, peer);
        var report = new TransferReport
        {
            Transport = "udp",
            Peer = peer,
            Bytes = transfer.TotalLength,
            Crc32 = transfer.Crc32,
            Sha256 = SHA256.HashData(transfer.Data.Span),
            Elapsed = elapsed,
            Parts = transfer.Count,
            Datagrams = state.Datagrams,
            Duplicates = transfer.Duplicates,
            Ignored = state.Ignored,
            Nacks = state.Nacks,
        };
        written?.Invoke(report);
        await LingerAsync(transfer, ackLength, timer);
        return report;
    }

    /// <summary>Answers DATA of the finished transfer with the ACK again (it was lost) until DONE or the linger time is over.</summary>
    private async Task LingerAsync(UdpReassembly transfer, int ackLength, ResettableTimeout timer)
    {
        long end = Stopwatch.GetTimestamp() + (long)(_options.AckLinger.TotalSeconds * Stopwatch.Frequency);
        long lastAck = Stopwatch.GetTimestamp();
        while (true)
        {
            TimeSpan remaining = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), end);
            if (remaining <= TimeSpan.Zero)
            {
                return;
            }

            SocketReceiveFromResult result;
            try
            {
                result = await _socket.ReceiveFromAsync(_rx, SocketFlags.None, _anyRemote, timer.Arm(remaining));
            }
            catch (OperationCanceledException)
            {
                // Linger over, or interrupted: the file is written either way.
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionRefused)
            {
                continue;
            }

            ReadOnlySpan<byte> datagram = _rx.AsSpan(0, result.ReceivedBytes);
            if (!TransferProtocol.TryReadDatagramPrefix(datagram, out TransferMessageType type, out ulong transferId) || transferId != transfer.TransferId)
            {
                continue;
            }

            if (type == TransferMessageType.Done && TransferControl.IsDone(datagram))
            {
                return;
            }

            if (type == TransferMessageType.Data && Stopwatch.GetElapsedTime(lastAck).TotalMilliseconds >= AckRepeatMilliseconds)
            {
                // The ACK is still in _tx: nothing else was written since.
                TrySend(ackLength, result.RemoteEndPoint);
                lastAck = Stopwatch.GetTimestamp();
            }
        }
    }

    private TransferFailedException Failed(TransferCode code, Progress state, string outputPath, string why)
    {
        UdpReassembly transfer = state.Transfer!;
        IReadOnlyList<PartRange> missing = transfer.MissingRanges(1024);
        return new TransferFailedException(code,
            $"transfer from udp://{state.Peer} failed: {why}; {PartRange.DescribeMissing(transfer.Missing, transfer.Count, missing)}. Nothing was written to {outputPath}.",
            missing);
    }

    private void Ignore(Progress state, EndPoint remote, string reason)
    {
        state.Ignored++;
        TransferLog.IgnoredDatagram(_logger, remote.ToString() ?? "?", reason);
    }

    /// <summary>Answers are best effort: a lost one is repeated by the protocol, an error is ignored.</summary>
    private void TrySend(int length, EndPoint to)
    {
        try
        {
            _socket.SendTo(_tx.AsSpan(0, length), SocketFlags.None, to);
        }
        catch (SocketException)
        {
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>The state of the one transfer being received.</summary>
    private sealed class Progress
    {
        public UdpReassembly? Transfer { get; set; }

        /// <summary>Where the newest datagram of the transfer came from: NACKs and the ACK go there.</summary>
        public EndPoint? Peer { get; set; }

        public long Started { get; set; }

        public long LastHeard { get; set; }

        public long NextNackAt { get; set; }

        public TimeSpan NackInterval { get; set; }

        public ushort NackSequence { get; set; }

        public long Datagrams { get; set; }

        public long Ignored { get; set; }

        public long Nacks { get; set; }
    }
}
