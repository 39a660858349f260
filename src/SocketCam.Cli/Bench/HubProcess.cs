using System.Diagnostics;
using System.Globalization;
using SocketCam.Diagnostics;
using SocketCam.Transport;

namespace SocketCam.Cli.Bench;

/// <summary>
/// `socketcam serve` as a child process of this one, so a bench can tell the hub's CPU and memory from its own
/// clients'. Started on a loopback port chosen by the kernel; the address is read from serve's banner.
/// </summary>
internal sealed class HubProcess : IAsyncDisposable
{
    private const string BannerPrefix = "SocketCam hub listening on ";
    private readonly Process _process;
    private readonly Queue<string> _stderr = new();
    private readonly Lock _stderrLock = new();
    private Task _drain = Task.CompletedTask;

    private HubProcess(Process process) => _process = process;

    /// <summary>Where the hub listens (known once <see cref="StartAsync"/> returns).</summary>
    public StreamEndpoint Endpoint { get; private set; } = new("tcp", "127.0.0.1", 0);

    public int ProcessId => _process.Id;

    /// <summary>Starts serve with <paramref name="arguments"/> after `serve --listen 127.0.0.1:0` and waits for its banner.</summary>
    public static async Task<HubProcess> StartAsync(IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo
        {
            FileName = Environment.ProcessPath ?? throw new UserFacingException("Cannot tell where this program is to start its hub."),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };

        // Run as `dotnet socketcam.dll`: the child needs the dll too.
        if (Path.GetFileNameWithoutExtension(start.FileName) == "dotnet")
        {
            start.ArgumentList.Add(typeof(HubProcess).Assembly.Location);
        }

        foreach (string a in (string[])["serve", "--listen", "127.0.0.1:0", .. arguments])
        {
            start.ArgumentList.Add(a);
        }

        Process process = Process.Start(start) ?? throw new UserFacingException("Could not start the bench's hub (socketcam serve).");
        var hub = new HubProcess(process);
        try
        {
            process.ErrorDataReceived += (_, e) => hub.KeepStderr(e.Data);
            process.BeginErrorReadLine();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line.StartsWith(BannerPrefix, StringComparison.Ordinal))
                {
                    // "tcp://127.0.0.1:PORT", or with --tls "tls://127.0.0.1:PORT (TLS 1.2/1.3)".
                    hub.Endpoint = StreamEndpoint.Parse(line[BannerPrefix.Length..].Split(' ')[0]);
                    hub._drain = hub.DrainStdoutAsync(); // serve may go on printing; a full pipe must never block it
                    return hub;
                }
            }

            throw new UserFacingException($"The bench's hub (socketcam serve) exited before listening: {hub.LastErrors()}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await hub.DisposeAsync();
            throw new TimeoutException("The bench's hub (socketcam serve) did not start listening within 30 s.");
        }
        catch
        {
            await hub.DisposeAsync();
            throw;
        }
    }

    /// <summary>CPU time the hub has used so far.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.HasExited ? TimeSpan.Zero : _process.TotalProcessorTime;
        }
    }

    /// <summary>The hub's resident memory now, in MB.</summary>
    public double WorkingSetMegabytes
    {
        get
        {
            _process.Refresh();
            return _process.HasExited ? 0 : _process.WorkingSet64 / 1e6;
        }
    }

    /// <summary>Throws, with what serve last printed, if the hub exits before <paramref name="stop"/>; returns when stopped.</summary>
    public async Task WaitForUnexpectedExitAsync(CancellationToken stop)
    {
        try
        {
            await _process.WaitForExitAsync(stop);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return;
        }

        throw new UserFacingException($"The bench's hub (socketcam serve) exited with code {_process.ExitCode}: {LastErrors()}");
    }

    public string LastErrors()
    {
        lock (_stderrLock)
        {
            return _stderr.Count == 0 ? "(nothing on its standard error)" : string.Join(" | ", _stderr);
        }
    }

    private void KeepStderr(string? line)
    {
        if (string.IsNullOrWhiteSpace(line))
        {
            return;
        }

        lock (_stderrLock)
        {
            _stderr.Enqueue(line);
            while (_stderr.Count > 5)
            {
                _stderr.Dequeue();
            }
        }
    }

    private async Task DrainStdoutAsync()
    {
        while (await _process.StandardOutput.ReadLineAsync() is not null)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                // Closing stdin is not a stop signal for serve; it owns nothing on disk here (no --unix, no --record), so a kill leaves nothing behind.
                _process.Kill(entireProcessTree: true);
            }

            await _process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
            await _drain.WaitAsync(TimeSpan.FromSeconds(10)); // ends at the pipe's end, now that serve exited
        }
        catch (InvalidOperationException)
        {
            // never started or already reaped
        }
        catch (TimeoutException)
        {
        }
        finally
        {
            _process.Dispose();
        }
    }
}
