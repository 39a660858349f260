using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using SocketCam.Diagnostics;
using SocketCam.Protocol;

namespace SocketCam.Cli.Commands;

/// <summary>
/// Runs a command body with logging to standard error, Ctrl+C handling, and errors turned into one line each
/// (what went wrong and what to do), never a stack trace.
/// </summary>
internal static class CliHost
{
    public static async Task<int> RunAsync(string logLevel, CancellationToken cancellationToken, Func<ILoggerFactory, CancellationToken, Task<int>> body)
    {
        if (!Enum.TryParse(logLevel, ignoreCase: true, out LogLevel level))
        {
            await Console.Error.WriteLineAsync($"socketcam: unknown --log-level '{logLevel}'.");
            return 2;
        }

        // Repeated lines (a connect storm's refusals) are rate-limited: one summary line instead of thousands.
        using ILoggerFactory loggerFactory = new ThrottledLoggerFactory(LoggerFactory.Create(b => b
            .SetMinimumLevel(level)
            .AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
                o.ColorBehavior = Console.IsErrorRedirected ? LoggerColorBehavior.Disabled : LoggerColorBehavior.Default;
            })
            .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace))); // stdout is kept for --json
        try
        {
            return await body(loggerFactory, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return 0;
        }
        catch (Exception ex) when (Describe(ex) is { } message)
        {
            await Console.Error.WriteLineAsync($"socketcam: {message}");
            return ex is ArgumentException or FormatException ? 2 : 1;
        }
    }

    /// <summary>The one line a user sees for an error we expect; null lets a true bug surface with its trace.</summary>
    private static string? Describe(Exception ex) => ex switch
    {
        NativeDependencyException => ex.Message,
        RemoteErrorException => ex.Message,
        ProtocolException => "protocol error: " + ex.Message,
        SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse } => "the address is already in use: stop the program that has it or pick another address.",
        SocketException { SocketErrorCode: SocketError.AddressNotAvailable } => "cannot listen on that address: it is not one of this machine's (try 0.0.0.0).",
        SocketException { SocketErrorCode: SocketError.ConnectionRefused } => "connection refused: is `socketcam serve` running at that address?",
        SocketException se => $"network error: {se.Message}",
        IOException or TimeoutException or InvalidDataException => ex.Message,
        ArgumentException or FormatException => ex.Message,
        UnauthorizedAccessException => ex.Message,
        UserFacingException => ex.Message,
        _ => null,
    };
}
