using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace SocketCam.Transfer;

/// <summary>
/// Sends one file over UDP (docs/PROTOCOL.md §2.1): every part once, paced; then the parts each NACK lists, a probe when
/// the receiver is silent, until its ACK. Gives up (ABORT <c>gave-up</c>) after <see cref="ImageTransferOptions.MaxStalledRounds"/>
/// NACKs without progress or <see cref="ImageTransferOptions.Timeout"/> of silence. One instance sends once.
/// </summary>
internal sealed class UdpImageSender : IDisposable
{
    /// <summary>Check for answers (ABORT, ACK) once every this many datagrams of a burst.</summary>
    private const int PollEvery = 16;

    private readonly IPEndPoint _receiver;
    private readonly ReadOnlyMemory<byte> _file;
    private readonly ImageTransferOptions _options;
    private readonly ILogger _logger;
    private readonly Socket _socket;
    private readonly ulong _transferId;
    private readonly uint _crc;
    private readonly int _count;
    private readonly byte[] _tx = new byte[TransferProtocol.MaxDatagramBytes];
    private readonly byte[] _rx = new byte[2048];
    /// <summary>The newest NACK used, what a datagram is parsed into, and the round being retransmitted.</summary>
    private readonly PartRange[] _nack = new PartRange[TransferProtocol.MaxNackRanges];
    private readonly PartRange[] _parsed = new PartRange[TransferProtocol.MaxNackRanges];
    private readonly PartRange[] _round = new PartRange[TransferProtocol.MaxNackRanges];
    private readonly SendPacer _pacer;
    private int _nackCount;
    private int _nackMissing;
    private ushort _nackSequence;
    private bool _hasNack;
    private bool _acked;
    private bool _heardFromReceiver;
    private long _lastHeard;
    private long _datagrams;
    private long _retransmitted;
    private long _nacks;
    private int _started;

    public UdpImageSender(IPEndPoint receiver, ReadOnlyMemory<byte> file, ImageTransferOptions? options = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        _options = options ?? new ImageTransferOptions();
        _options.Validate();
        if (file.Length > TransferProtocol.MaxFileBytesLimit)
        {
            throw new ArgumentException($"The file is {file.Length} bytes: at most {TransferProtocol.MaxFileBytesLimit} can be sent.", nameof(file));
        }

        _receiver = receiver;
        _file = file;
        _logger = logger ?? NullLogger.Instance;
        _transferId = NewTransferId();
        _crc = Crc32.Compute(file.Span);
        _count = (int)TransferProtocol.PartCount(file.Length);
        _pacer = new SendPacer(_options.MaxBytesPerSecond);
        _socket = new Socket(receiver.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
    }

    public ulong TransferId => _transferId;

    public async Task<TransferReport> SendAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("A UdpImageSender sends once.");
        }

        long start = Stopwatch.GetTimestamp();
        // Connected: replies from anyone else are dropped by the kernel, and "port unreachable" surfaces as an error.
        _socket.Connect(_receiver);
        TransferLog.Sending(_logger, _file.Length, Url);
        TransferLog.UdpTransfer(_logger, _transferId, _count);
        try
        {
            for (int i = 0; i < _count && !_acked; i++)
            {
                await SendPartAsync(i, retransmission: false, cancellationToken);
            }

            if (!_acked)
            {
                await AwaitAckAsync(cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            TrySendAbort(TransferCode.Cancelled);
            throw;
        }

        // The receiver lingers until it sees DONE; twice, in case one is lost.
        int length = TransferControl.WriteDone(_tx, _transferId);
        TrySend(length);
        TrySend(length);
        return new TransferReport
        {
            Transport = "udp",
            Peer = _receiver,
            Bytes = _file.Length,
            Crc32 = _crc,
            Sha256 = SHA256.HashData(_file.Span),
            Elapsed = Stopwatch.GetElapsedTime(start),
            Parts = _count,
            Datagrams = _datagrams,
            Retransmitted = _retransmitted,
            Nacks = _nacks,
        };
    }

    public void Dispose() => _socket.Dispose();

    private string Url => $"udp://{_receiver}";

    private async Task AwaitAckAsync(CancellationToken cancellationToken)
    {
        using var timer = new ResettableTimeout(cancellationToken);
        TimeSpan probeInterval = _options.ProbeInterval;
        int bestMissing = int.MaxValue;
        int stalled = 0;
        _lastHeard = Stopwatch.GetTimestamp();
        while (true)
        {
            TimeSpan silence = Stopwatch.GetElapsedTime(_lastHeard);
            if (silence >= _options.Timeout)
            {
                TrySendAbort(TransferCode.GaveUp);
                string seconds = _options.Timeout.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture);
                throw new TransferFailedException(TransferCode.GaveUp, _heardFromReceiver
                    ? $"transfer to {Url} failed: the receiver stopped answering for {seconds} s."
                    : $"transfer to {Url} failed: no answer for {seconds} s. Is `socketcam receive-image --udp` running there, and does UDP get through?");
            }

            TimeSpan wait = probeInterval < _options.Timeout - silence ? probeInterval : _options.Timeout - silence;
            int received;
            try
            {
                received = await _socket.ReceiveAsync(_rx, SocketFlags.None, timer.Arm(wait));
            }
            catch (OperationCanceledException) when (timer.Expired)
            {
                int probe = _hasNack ? _nack[0].First : _count - 1;
                TransferLog.Probing(_logger, probe);
                await SendPartAsync(probe, retransmission: true, cancellationToken);
                probeInterval = probeInterval * 2 < _options.MaxProbeInterval ? probeInterval * 2 : _options.MaxProbeInterval;
                continue;
            }
            catch (SocketException ex) when (IsUnreachable(ex))
            {
                throw NotListening(ex);
            }

            Reply reply = Handle(_rx.AsSpan(0, received), duringBurst: false);
            while (reply != Reply.Ack && _socket.Available > 0)
            {
                Reply next = Handle(_rx.AsSpan(0, ReceiveNow()), duringBurst: false);
                reply = next == Reply.None ? reply : next;
            }

            if (reply == Reply.Ack)
            {
                return;
            }

            if (reply != Reply.Nack)
            {
                continue;
            }

            _nacks++;
            probeInterval = _options.ProbeInterval;
            if (_nackMissing < bestMissing)
            {
                bestMissing = _nackMissing;
                stalled = 0;
            }
            else if (++stalled >= _options.MaxStalledRounds)
            {
                TrySendAbort(TransferCode.GaveUp);
                PartRange[] missing = _nack.AsSpan(0, _nackCount).ToArray();
                throw new TransferFailedException(
                    TransferCode.GaveUp,
                    $"transfer to {Url} failed: gave up after {stalled} retransmission rounds without progress; the receiver is still {PartRange.DescribeMissing(_nackMissing, _count, missing)} (the path loses them every time).",
                    missing);
            }

            int rangeCount = _nackCount;
            _nack.AsSpan(0, rangeCount).CopyTo(_round);
            int parts = 0;
            for (int r = 0; r < rangeCount; r++)
            {
                parts += _round[r].Length;
            }

            TransferLog.Retransmitting(_logger, parts, _nackMissing);
            for (int r = 0; r < rangeCount && !_acked; r++)
            {
                PartRange range = _round[r];
                for (int i = range.First; i <= range.Last && !_acked; i++)
                {
                    await SendPartAsync(i, retransmission: true, cancellationToken);
                }
            }

            if (_acked)
            {
                return;
            }

            // Silence is counted from the end of what we sent.
            _lastHeard = Stopwatch.GetTimestamp();
        }
    }

    private async ValueTask SendPartAsync(int index, bool retransmission, CancellationToken cancellationToken)
    {
        var header = UdpChunkHeader.ForPart(_transferId, index, _file.Length, _crc);
        header.Write(_tx);
        _file.Span.Slice(index * TransferProtocol.PartBytes, header.PayloadLength).CopyTo(_tx.AsSpan(TransferProtocol.DataHeaderBytes));
        int length = TransferProtocol.DataHeaderBytes + header.PayloadLength;
        await _pacer.WaitAsync(length, cancellationToken);
        try
        {
            await _socket.SendAsync(_tx.AsMemory(0, length), SocketFlags.None, cancellationToken);
        }
        catch (SocketException ex) when (IsUnreachable(ex))
        {
            throw NotListening(ex);
        }

        _datagrams++;
        if (retransmission)
        {
            _retransmitted++;
        }

        if (_datagrams % PollEvery == 0)
        {
            PollReplies();
        }
    }

    /// <summary>Reads whatever answers are queued without waiting: an ABORT ends the transfer, an ACK ends the burst.</summary>
    private void PollReplies()
    {
        try
        {
            while (!_acked && _socket.Available > 0)
            {
                Handle(_rx.AsSpan(0, ReceiveNow()), duringBurst: true);
            }
        }
        catch (SocketException ex) when (IsUnreachable(ex))
        {
            throw NotListening(ex);
        }
    }

    private int ReceiveNow() => _socket.Receive(_rx, SocketFlags.None);

    private enum Reply
    {
        None,
        Nack,
        Ack,
    }

    /// <summary>
    /// One datagram from the receiver. NACKs that arrive during a burst are stale (the receiver NACKs when it hears
    /// nothing, and a burst is not over): they are dropped, the receiver repeats itself once the burst ends. A NACK
    /// is used only if it is newer than the last one used (a duplicated or late NACK would only cause duplicates).
    /// </summary>
    private Reply Handle(ReadOnlySpan<byte> datagram, bool duringBurst)
    {
        if (!TransferProtocol.TryReadDatagramPrefix(datagram, out TransferMessageType type, out ulong id) || id != _transferId)
        {
            return Reply.None;
        }

        switch (type)
        {
            case TransferMessageType.Ack when TransferControl.TryParseAck(datagram, out long total, out uint crc) && total == _file.Length && crc == _crc:
                Heard();
                _acked = true;
                return Reply.Ack;
            case TransferMessageType.Abort when TransferControl.TryParseAbort(datagram, out TransferCode code, out ulong value):
                throw ReceiverAborted(code, value);
            case TransferMessageType.Nack when TransferControl.TryParseNack(datagram, _count, _parsed, out int missing, out ushort sequence, out int count):
                Heard();
                if (duringBurst || (_hasNack && (short)(sequence - _nackSequence) <= 0))
                {
                    return Reply.None;
                }

                _parsed.AsSpan(0, count).CopyTo(_nack);
                _nackCount = count;
                _nackMissing = missing;
                _nackSequence = sequence;
                _hasNack = true;
                return Reply.Nack;
            default:
                return Reply.None;
        }
    }

    private void Heard()
    {
        _heardFromReceiver = true;
        _lastHeard = Stopwatch.GetTimestamp();
    }

    private TransferFailedException ReceiverAborted(TransferCode code, ulong value)
    {
        string why = code switch
        {
            TransferCode.TooLarge => $"the receiver refuses files above {value} bytes and this one is {_file.Length} (receive-image --max-bytes raises the limit).",
            TransferCode.ChecksumMismatch => "the parts arrived but their CRC-32 does not match: did the file change while it was sent? Nothing was written; send it again.",
            TransferCode.WriteFailed => "the receiver could not write the file (its own message says why).",
            TransferCode.Timeout => "the receiver timed out waiting for the missing parts.",
            TransferCode.Cancelled => "the receiver was interrupted.",
            _ => $"the receiver ended it ({TransferProtocol.Describe(code)}).",
        };
        return new TransferFailedException(code, $"transfer to {Url} failed: {why}");
    }

    private TransferFailedException NotListening(SocketException ex)
    {
        // An ABORT sent just before the receiver exited explains more than "port unreachable": Handle throws for it.
        try
        {
            while (_socket.Available > 0)
            {
                Handle(_rx.AsSpan(0, ReceiveNow()), duringBurst: true);
            }
        }
        catch (SocketException)
        {
            // Nothing more to learn.
        }

        return new TransferFailedException(
            TransferCode.GaveUp,
            $"nothing is listening at {Url} (port unreachable): start `socketcam receive-image --udp HOST:{_receiver.Port} --out FILE` there first.",
            ex);
    }

    private void TrySendAbort(TransferCode code) => TrySend(TransferControl.WriteAbort(_tx, _transferId, code, 0));

    /// <summary>Best effort (a last word before giving up or after success): errors are ignored.</summary>
    private void TrySend(int length)
    {
        try
        {
            _socket.Send(_tx.AsSpan(0, length), SocketFlags.None);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private static bool IsUnreachable(SocketException ex) =>
        ex.SocketErrorCode is SocketError.ConnectionRefused or SocketError.ConnectionReset or SocketError.HostUnreachable or SocketError.NetworkUnreachable;

    private static ulong NewTransferId()
    {
        Span<byte> bytes = stackalloc byte[8];
        RandomNumberGenerator.Fill(bytes);
        return BitConverter.ToUInt64(bytes);
    }
}
