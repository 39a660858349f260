using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using SocketCam.Protocol;
using SocketCam.Transport;

namespace SocketCam.Client;

/// <summary>Runs a session again and again with exponential backoff, until cancelled or a permanent error.</summary>
internal static class Reconnector
{
    public static async Task RunAsync(StreamEndpoint endpoint, ClientOptions options, ILogger logger, Func<CancellationToken, Task> session, Action onRetry, CancellationToken cancellationToken)
    {
        TimeSpan delay = TimeSpan.FromMilliseconds(250);
        while (true)
        {
            string reason;
            long started = Environment.TickCount64;
            try
            {
                await session(cancellationToken);
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
                // The session worked for a while: start the backoff over.
                delay = TimeSpan.FromMilliseconds(250);
            }

            onRetry();
            ClientLog.Reconnecting(logger, endpoint.ToString(), reason, (int)delay.TotalMilliseconds);
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
    /// hub found too slow or had no budget for is a passing state of the link or the hub; a throttled or over-the-cap
    /// client is not retried: it would only keep its address blocked.
    /// </summary>
    private static bool IsRetryable(ErrorCode code) =>
        code is ErrorCode.ServerShutdown or ErrorCode.IdleTimeout or ErrorCode.HandshakeTimeout or ErrorCode.RoomBusy or ErrorCode.Normal
            or ErrorCode.TooSlow or ErrorCode.OverBudget;
}
