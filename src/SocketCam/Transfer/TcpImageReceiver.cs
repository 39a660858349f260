using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SocketCam.Transport;

namespace SocketCam.Transfer;

/// <summary>
/// Receives one file over TCP (docs/PROTOCOL.md §2.1). Connections that do not start with a TCP_OFFER are closed and
/// ignored; the first offer is the transfer: its length is checked against the cap before anything is allocated, the
/// bytes are checked against the CRC-32, and only then is the file written (atomically) and TCP_RESULT <c>ok</c> sent.
/// The socket listens from the constructor on, so <see cref="LocalEndPoint"/> is known before receiving starts.
/// </summary>
internal sealed class TcpImageReceiver : IDisposable
{
    private const int SliceBytes = 1024 * 1024;

    private readonly ImageTransferOptions _options;
    private readonly ILogger _logger;
    private readonly Socket _listener;
    private int _started;

    public TcpImageReceiver(IPEndPoint listen, ImageTransferOptions? options = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(listen);
        _options = options ?? new ImageTransferOptions();
        _options.Validate();
        _logger = logger ?? NullLogger.Instance;
        _listener = new Socket(listen.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            _listener.Bind(listen);
            _listener.Listen(8);
        }
        catch
        {
            _listener.Dispose();
            throw;
        }
    }

    public IPEndPoint LocalEndPoint => (IPEndPoint)_listener.LocalEndPoint!;

    public async Task<TransferReport> ReceiveAsync(string outputPath, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("A TcpImageReceiver receives once.");
        }

        AtomicFile.CheckWritable(outputPath);
        using var timer = new ResettableTimeout(cancellationToken);
        long listening = Stopwatch.GetTimestamp();
        while (true)
        {
            TimeSpan wait = _options.StartTimeout == Timeout.InfiniteTimeSpan
                ? Timeout.InfiniteTimeSpan
                : _options.StartTimeout - Stopwatch.GetElapsedTime(listening);
            Socket connection;
            try
            {
                connection = await _listener.AcceptAsync(timer.Arm(wait));
            }
            catch (OperationCanceledException) when (timer.Expired)
            {
                throw new TransferFailedException(TransferCode.Timeout, string.Create(CultureInfo.InvariantCulture,
                    $"no transfer arrived at tcp://{LocalEndPoint} within {_options.StartTimeout.TotalSeconds:0.#} s; nothing was written to {outputPath}."));
            }

            using (connection)
            {
                TransferReport? report = await TryReceiveAsync(connection, outputPath, timer);
                if (report is not null)
                {
                    return report;
                }
            }
        }
    }

    public void Dispose() => _listener.Dispose();

    /// <summary>One connection: null when it was not a transfer (ignored), the report when the file was written; throws when a transfer failed.</summary>
    private async Task<TransferReport?> TryReceiveAsync(Socket connection, string outputPath, ResettableTimeout timer)
    {
        connection.NoDelay = true;
        string remote = $"tcp://{connection.Describe()}";
        string seconds = _options.Timeout.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture);
        byte[] header = new byte[TransferProtocol.TcpOfferBytes];
        int got;
        try
        {
            got = await ReceiveAtMostAsync(connection, header, timer);
        }
        catch (OperationCanceledException) when (timer.Expired)
        {
            TransferLog.IgnoredConnection(_logger, remote, $"no transfer header within {seconds} s");
            return null;
        }
        catch (Exception ex) when (ex is SocketException or IOException && ex.IsDisconnect())
        {
            TransferLog.IgnoredConnection(_logger, remote, "closed before a transfer header");
            return null;
        }

        if (got < header.Length)
        {
            TransferLog.IgnoredConnection(_logger, remote, got == 0 ? "closed without sending anything" : "closed before a complete transfer header");
            return null;
        }

        switch (TcpTransferHeader.TryParseOffer(header, out ulong length, out uint expectedCrc))
        {
            case TcpOfferStatus.Foreign:
                TransferLog.IgnoredConnection(_logger, remote, "not a socketcam image transfer");
                return null;
            case TcpOfferStatus.UnsupportedVersion:
                await TrySendResultAsync(connection, TransferCode.UnsupportedVersion, TransferProtocol.Version, timer);
                TransferLog.IgnoredConnection(_logger, remote, $"image transfer version {header[4]}; this socketcam speaks {TransferProtocol.Version}");
                return null;
        }

        if (length > (ulong)_options.MaxFileBytes)
        {
            // Refused from the header alone: nothing was allocated.
            await TrySendResultAsync(connection, TransferCode.TooLarge, (ulong)_options.MaxFileBytes, timer);
            throw new TransferFailedException(TransferCode.TooLarge,
                $"refused a {length}-byte file from {remote}: the limit is {_options.MaxFileBytes} bytes (--max-bytes); nothing was written to {outputPath}.");
        }

        TransferLog.Receiving(_logger, (long)length, remote);
        long start = Stopwatch.GetTimestamp();
        byte[] data = GC.AllocateUninitializedArray<byte>((int)length);
        int received = 0;
        var hasher = new System.IO.Hashing.Crc32(); // over the bytes as they arrive
        try
        {
            while (received < data.Length)
            {
                int n = await connection.ReceiveAsync(data.AsMemory(received, Math.Min(SliceBytes, data.Length - received)), SocketFlags.None, timer.Arm(_options.Timeout));
                if (n == 0)
                {
                    break;
                }

                hasher.Append(data.AsSpan(received, n));
                received += n;
            }
        }
        catch (OperationCanceledException) when (timer.Expired)
        {
            throw new TransferFailedException(TransferCode.Timeout,
                $"transfer from {remote} failed: nothing arrived for {seconds} s after {received} of {length} bytes; nothing was written to {outputPath}.");
        }
        catch (Exception ex) when (ex is SocketException or IOException && ex.IsDisconnect())
        {
            // Reported below as a short stream.
        }

        if (received < data.Length)
        {
            throw new TransferFailedException(TransferCode.GaveUp,
                $"transfer from {remote} failed: the sender closed the connection after {received} of {length} bytes; nothing was written to {outputPath}.");
        }

        uint crc = hasher.GetCurrentHashAsUInt32();
        if (crc != expectedCrc)
        {
            await TrySendResultAsync(connection, TransferCode.ChecksumMismatch, 0, timer);
            throw new TransferFailedException(TransferCode.ChecksumMismatch,
                $"transfer from {remote} failed: the CRC-32 of the {length} bytes is {Crc32.Format(crc)}, not the announced {Crc32.Format(expectedCrc)}; nothing was written to {outputPath}.");
        }

        TimeSpan elapsed = Stopwatch.GetElapsedTime(start);
        try
        {
            await AtomicFile.WriteAsync(outputPath, data, timer.Arm(Timeout.InfiniteTimeSpan));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await TrySendResultAsync(connection, TransferCode.WriteFailed, 0, timer);
            throw;
        }

        await TrySendResultAsync(connection, TransferCode.Ok, length, timer);
        return new TransferReport
        {
            Transport = "tcp",
            Peer = connection.RemoteEndPoint ?? new IPEndPoint(IPAddress.None, 0),
            Bytes = data.Length,
            Crc32 = crc,
            Sha256 = SHA256.HashData(data),
            Elapsed = elapsed,
        };
    }

    /// <summary>Fills <paramref name="buffer"/> unless the connection ends first; returns how many bytes arrived.</summary>
    private async Task<int> ReceiveAtMostAsync(Socket connection, byte[] buffer, ResettableTimeout timer)
    {
        CancellationToken token = timer.Arm(_options.Timeout);
        int got = 0;
        while (got < buffer.Length)
        {
            int n = await connection.ReceiveAsync(buffer.AsMemory(got), SocketFlags.None, token);
            if (n == 0)
            {
                break;
            }

            got += n;
        }

        return got;
    }

    /// <summary>TCP_RESULT, best effort: the sender may already be gone.</summary>
    private async Task TrySendResultAsync(Socket connection, TransferCode code, ulong value, ResettableTimeout timer)
    {
        byte[] result = new byte[TransferProtocol.TcpResultBytes];
        TcpTransferHeader.WriteResult(result, code, value);
        try
        {
            await connection.SendAllAsync(result, timer.Arm(_options.Timeout));
            connection.Shutdown(SocketShutdown.Send);
        }
        catch (OperationCanceledException) when (timer.Expired)
        {
        }
        catch (Exception ex) when (ex is SocketException or IOException && ex.IsDisconnect())
        {
        }
    }
}
