using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using SocketCam.Protocol;
using SocketCam.Transport;

namespace SocketCam.Client;

/// <summary>Runs a session again and again with exponential backoff, until cancelled or a permanent error.</summary>
internal static class Reconnector
{
    /// <summary>
    /// <paramref name="onRetry"/> hears of every retry (the reason and the wait), so a status line can show it: only the
    /// first failure of a kind is logged as a warning, a repeat of the same reason only at debug level.
    /// </summary>
    public static async Task RunAsync(StreamEndpoint endpoint, ClientOptions options, ILogger logger, Func<CancellationToken, Task> session, Action<string, TimeSpan> onRetry, CancellationToken cancellationToken)
    {
        TimeSpan delay = TimeSpan.FromMilliseconds(250);
        string? lastReason = null;
        while (true)
        {
            string reason;
            long started = Environment.TickCount64;
            try
            {
                await session(cancellationToken);
                if (cancellationToken.IsCancellationRequested)
                {
                    return; // the session ended because we were told to stop, not because the server went away
                }

                reason = "the server closed the session";
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (RemoteErrorException ex) when (IsRetryable(ex.Code) && options.Reconnect)
            {
                reason = ex.Message;
            }
            catch (RemoteErrorException ex) when (ex.Code is ErrorCode.TooManyClients or ErrorCode.Throttled && options.Reconnect)
            {
                // The server is full or this address is blocked for a while: a camera must not give up for good because
                // somebody flooded the hub, but it waits as long as it ever does, so it does not keep its address blocked.
                reason = ex.Message;
                delay = options.MaxBackoff;
            }
            catch (Exception ex) when (options.Reconnect && ex is SocketException { SocketErrorCode: SocketError.ConnectionRefused })
            {
                reason = "connection refused";
            }
            catch (Exception ex) when (options.Reconnect && ex is SocketException or IOException or TimeoutException)
            {
                reason = ex.Message;
            }

            if (!options.Reconnect)
            {
                return;
            }

            if (Environment.TickCount64 - started > 10_000)
            {
                // The session worked for a while: start the backoff over, and a new failure is news again.
                delay = TimeSpan.FromMilliseconds(250);
                lastReason = null;
            }

            onRetry(reason, delay);
            if (string.Equals(reason, lastReason, StringComparison.Ordinal))
            {
                ClientLog.RetryingAgain(logger, endpoint.ToString(), reason.TrimEnd('.'), (int)delay.TotalMilliseconds);
            }
            else if (reason == "connection refused" && !endpoint.IsUnix)
            {
                ClientLog.Refused(logger, endpoint.ToString(), endpoint.Port);
            }
            else
            {
                // (A hub's reason is a sentence: its full stop would read ".;" before the "; reconnecting".)
                ClientLog.Reconnecting(logger, endpoint.ToString(), reason.TrimEnd('.'), (int)delay.TotalMilliseconds);
            }

            lastReason = reason;
            try
            {
                await Task.Delay(delay, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, options.MaxBackoff.Ticks));
        }
    }

    /// <summary>
    /// Errors that may go away by trying again (the others will not: wrong token, not a SocketCam server...). A frame the
    /// hub found too slow or had no budget for is a passing state of the link or the hub. (A throttled or over-the-cap
    /// client is retried too, but only after the longest backoff.)
    /// </summary>
    private static bool IsRetryable(ErrorCode code) =>
        code is ErrorCode.ServerShutdown or ErrorCode.IdleTimeout or ErrorCode.HandshakeTimeout or ErrorCode.RoomBusy or ErrorCode.Normal
            or ErrorCode.TooSlow or ErrorCode.OverBudget;
}
