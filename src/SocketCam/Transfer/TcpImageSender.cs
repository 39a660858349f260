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
/// Sends one file over TCP (docs/PROTOCOL.md §2.1): TCP_OFFER (length, CRC-32), the bytes, then waits for the
/// receiver's TCP_RESULT, so success means the file was checked and written at the other end.
/// </summary>
internal sealed class TcpImageSender
{
    private const int SliceBytes = 1024 * 1024;

    private readonly ImageTransferOptions _options;
    private readonly ILogger _logger;

    public TcpImageSender(ImageTransferOptions? options = null, ILogger? logger = null)
    {
        _options = options ?? new ImageTransferOptions();
        _options.Validate();
        _logger = logger ?? NullLogger.Instance;
    }

    public async Task<TransferReport> SendAsync(IPEndPoint receiver, ReadOnlyMemory<byte> file, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        string url = $"tcp://{receiver}";
        string seconds = _options.Timeout.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture);
        uint crc = Crc32.Compute(file.Span);
        long start = Stopwatch.GetTimestamp();
        using var socket = new Socket(receiver.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timer = new ResettableTimeout(cancellationToken);
        try
        {
            await socket.ConnectAsync(receiver, timer.Arm(_options.Timeout));
        }
        catch (OperationCanceledException) when (timer.Expired)
        {
            throw new TransferFailedException(TransferCode.Timeout, $"could not connect to {url} within {seconds} s.");
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused)
        {
            throw new TransferFailedException(TransferCode.GaveUp,
                $"connection refused by {url}: start `socketcam receive-image --tcp HOST:{receiver.Port} --out FILE` there first.", ex);
        }

        TransferLog.Sending(_logger, file.Length, url);
        byte[] header = new byte[TransferProtocol.TcpOfferBytes];
        TcpTransferHeader.WriteOffer(header, file.Length, crc);
        long sent = 0;
        try
        {
            await socket.SendAllAsync(header, timer.Arm(_options.Timeout));
            while (sent < file.Length)
            {
                int slice = (int)Math.Min(SliceBytes, file.Length - sent);
                await socket.SendAllAsync(file.Slice((int)sent, slice), timer.Arm(_options.Timeout));
                sent += slice;
            }

            socket.Shutdown(SocketShutdown.Send);
        }
        catch (OperationCanceledException) when (timer.Expired)
        {
            throw new TransferFailedException(TransferCode.Timeout, $"transfer to {url} failed: the receiver took nothing for {seconds} s after {sent} of {file.Length} bytes.");
        }
        catch (Exception ex) when (ex is SocketException or IOException && ex.IsDisconnect())
        {
            // The receiver may have said why before closing (e.g. the file is too large for it).
            (TransferCode Code, ulong Value)? early = null;
            try
            {
                early = await TryReadResultAsync(socket, timer, TimeSpan.FromSeconds(1));
            }
            catch (OperationCanceledException) when (timer.Expired)
            {
                // It said nothing.
            }

            if (early is { } refused && refused.Code != TransferCode.Ok)
            {
                throw Refused(url, refused.Code, refused.Value, file.Length);
            }

            throw new TransferFailedException(TransferCode.GaveUp, $"transfer to {url} failed: the receiver closed the connection after {sent} of {file.Length} bytes.", ex);
        }

        (TransferCode Code, ulong Value)? result;
        try
        {
            result = await TryReadResultAsync(socket, timer, _options.Timeout);
        }
        catch (OperationCanceledException) when (timer.Expired)
        {
            throw new TransferFailedException(TransferCode.Timeout, $"transfer to {url}: every byte was sent but the receiver did not confirm within {seconds} s.");
        }

        if (result is not { } answer)
        {
            throw new TransferFailedException(TransferCode.GaveUp, $"transfer to {url}: every byte was sent but the receiver closed the connection without confirming; the file was probably not written.");
        }

        if (answer.Code != TransferCode.Ok)
        {
            throw Refused(url, answer.Code, answer.Value, file.Length);
        }

        if (answer.Value != (ulong)file.Length)
        {
            throw new TransferFailedException(TransferCode.GaveUp, $"transfer to {url}: the receiver confirmed {answer.Value} bytes instead of {file.Length}.");
        }

        return new TransferReport
        {
            Transport = "tcp",
            Peer = receiver,
            Bytes = file.Length,
            Crc32 = crc,
            Sha256 = SHA256.HashData(file.Span),
            Elapsed = Stopwatch.GetElapsedTime(start),
        };
    }

    /// <summary>Reads TCP_RESULT; null when the connection ends (or is reset) without one. Throws on timeout.</summary>
    private static async Task<(TransferCode Code, ulong Value)?> TryReadResultAsync(Socket socket, ResettableTimeout timer, TimeSpan timeout)
    {
        byte[] buffer = new byte[TransferProtocol.TcpResultBytes];
        int got = 0;
        try
        {
            CancellationToken token = timer.Arm(timeout);
            while (got < buffer.Length)
            {
                int n = await socket.ReceiveAsync(buffer.AsMemory(got), SocketFlags.None, token);
                if (n == 0)
                {
                    return null;
                }

                got += n;
            }
        }
        catch (Exception ex) when (ex is SocketException or IOException && ex.IsDisconnect())
        {
            return null;
        }

        return TcpTransferHeader.TryParseResult(buffer, out TransferCode code, out ulong value) ? (code, value) : null;
    }

    private static TransferFailedException Refused(string url, TransferCode code, ulong value, long length)
    {
        string why = code switch
        {
            TransferCode.TooLarge => $"the receiver refuses files above {value} bytes and this one is {length} (receive-image --max-bytes raises the limit).",
            TransferCode.ChecksumMismatch => "the bytes arrived but their CRC-32 does not match: did the file change while it was sent? Nothing was written; send it again.",
            TransferCode.WriteFailed => "the receiver could not write the file (its own message says why).",
            TransferCode.UnsupportedVersion => $"the receiver speaks image transfer version {value}, not {TransferProtocol.Version}: use the same socketcam on both sides.",
            _ => $"the receiver ended it ({TransferProtocol.Describe(code)}).",
        };
        return new TransferFailedException(code, $"transfer to {url} failed: {why}");
    }
}
