using System.Runtime.InteropServices;

namespace SocketCam.Cli;

/// <summary>
/// Ctrl+C (SIGINT) and SIGTERM, handled the same way from the process's first instant for every command: the first
/// cancels the command, which then has <see cref="GracePeriod"/> to finish cleanly (say goodbye to peers, let ffmpeg
/// write a recording's index) before the process ends anyway; a second one ends it at once, like most CLI tools.
/// System.CommandLine's own handler is registered only once the command has started, so a Ctrl+C during start-up
/// killed the process with 130 and no word.
/// </summary>
internal sealed class TerminationSignals : IDisposable
{
    /// <summary>How long a cancelled command may take to stop before the process ends regardless.</summary>
    public static readonly TimeSpan GracePeriod = TimeSpan.FromSeconds(30);

    private readonly CancellationTokenSource _cancel = new();
    private readonly PosixSignalRegistration _interrupt;
    private readonly PosixSignalRegistration _terminate;
    private Timer? _deadline;
    private int _signals;

    public TerminationSignals()
    {
        _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    }

    /// <summary>Cancelled by the first signal.</summary>
    public CancellationToken Token => _cancel.Token;

    public void Dispose()
    {
        _interrupt.Dispose();
        _terminate.Dispose();
        _deadline?.Dispose();
        _cancel.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        if (Interlocked.Increment(ref _signals) > 1)
        {
            return; // not cancelled: the runtime's default action ends the process now (exit 130 or 143)
        }

        context.Cancel = true;
        int code = context.Signal == PosixSignal.SIGINT ? 130 : 143;
        _deadline = new Timer(_ => ForceExit(code), null, GracePeriod, Timeout.InfiniteTimeSpan);
        _cancel.Cancel();
    }

    private static void ForceExit(int code)
    {
        Console.Error.WriteLine($"socketcam: still stopping after {GracePeriod.TotalSeconds:0} s; ending now.");
        Environment.Exit(code);
    }
}
