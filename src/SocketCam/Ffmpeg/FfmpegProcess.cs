using System.ComponentModel;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SocketCam.Diagnostics;

namespace SocketCam.Ffmpeg;

/// <summary>
/// An ffmpeg (or ffprobe) child process: its standard output as a stream, optionally its standard input, and a
/// pump that keeps the last lines of its standard error (ffmpeg's reason for failing is its last error line).
/// Disposing kills the process if it is still running and waits for it, so nothing is left behind.
/// </summary>
internal sealed class FfmpegProcess : IAsyncDisposable
{
    private const int KeptStderrLines = 64;
    private const int MaxStderrLineLength = 300;

    private readonly Process _process;
    private readonly string _tool;
    private readonly ILogger _logger;
    private readonly Queue<string> _stderr = new();
    private readonly Task _stderrPump;
    private int _disposed;

    private FfmpegProcess(Process process, string tool, ILogger logger)
    {
        _process = process;
        _tool = tool;
        _logger = logger;
        _stderrPump = PumpStderrAsync();
    }

    public int Id => _process.Id;

    /// <summary>The child's standard output.</summary>
    public Stream Output => _process.StandardOutput.BaseStream;

    /// <summary>The child's standard input (only when started with <c>redirectInput</c>).</summary>
    public Stream Input => _process.StandardInput.BaseStream;

    public bool HasExited => _process.HasExited;

    /// <summary>The last non-empty line ffmpeg wrote to standard error, or null.</summary>
    public string? LastErrorLine
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.Count == 0 ? null : _stderr.Last();
            }
        }
    }

    public IReadOnlyList<string> RecentErrorLines
    {
        get
        {
            lock (_stderr)
            {
                return [.. _stderr];
            }
        }
    }

    /// <summary>
    /// Starts <paramref name="tool"/> with <paramref name="arguments"/> (one per element, no shell). ffmpeg's banner,
    /// statistics and interactive keys are turned off; a missing ffmpeg is a <see cref="NativeDependencyException"/>.
    /// With <paramref name="ownSession"/> the child runs in a session of its own (through <c>setsid</c>, when installed),
    /// so Ctrl+C in the terminal reaches only SocketCam, which then lets ffmpeg finish its file in an orderly way
    /// instead of ffmpeg stopping by itself before the last frames were handed to it.
    /// </summary>
    public static FfmpegProcess Start(IEnumerable<string> arguments, bool redirectInput = false, ILogger? logger = null, string tool = FfmpegTool.Ffmpeg, bool ownSession = false)
    {
        logger ??= NullLogger.Instance;
        string program = FfmpegTool.Locate(tool);
        string? setsid = ownSession ? FfmpegTool.TryLocate("setsid") : null;
        var info = new ProcessStartInfo(setsid ?? program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true, // never let ffmpeg read the terminal (it would eat keys such as 'q')
            UseShellExecute = false,
        };
        if (setsid is not null)
        {
            // --wait: setsid forks when the child happens to lead its process group; the pid we hold must stay ffmpeg's
            // lifetime either way.
            info.ArgumentList.Add("--wait");
            info.ArgumentList.Add(program);
        }

        info.ArgumentList.Add("-hide_banner");
        if (tool == FfmpegTool.Ffmpeg)
        {
            info.ArgumentList.Add("-nostats");
            if (!redirectInput)
            {
                info.ArgumentList.Add("-nostdin");
            }
        }

        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        FfmpegLog.Starting(logger, tool, string.Join(' ', info.ArgumentList));
        var process = new Process { StartInfo = info };
        try
        {
            process.Start();
        }
        catch (Win32Exception ex)
        {
            process.Dispose();
            throw new NativeDependencyException($"{tool} could not be started ({ex.Message}): install it with sudo apt-get install ffmpeg.", ex);
        }

        if (!redirectInput)
        {
            process.StandardInput.Close();
        }

        PipeCapacity.TryEnlarge(process.StandardOutput.BaseStream);
        return new FfmpegProcess(process, tool, logger);
    }

    /// <summary>Waits for the process to exit and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(CancellationToken cancellationToken)
    {
        await _process.WaitForExitAsync(cancellationToken);
        await _stderrPump;
        return _process.ExitCode;
    }

    /// <summary>
    /// Closes standard input (ffmpeg then finishes the file it writes: trailer, index) and waits up to
    /// <paramref name="grace"/> for it to exit; kills it after that. Returns the exit code (-1 when killed).
    /// </summary>
    public async Task<int> FinishInputAsync(TimeSpan grace)
    {
        try
        {
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
            // ffmpeg already went away; its exit code says why.
        }

        using var timeout = new CancellationTokenSource(grace);
        try
        {
            return await WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
            await _process.WaitForExitAsync(CancellationToken.None);
            return -1;
        }
    }

    /// <summary>"ffmpeg exited with code 1: No such file or directory" — for logs and errors.</summary>
    public string DescribeExit()
    {
        string code = _process.HasExited ? $"exited with code {_process.ExitCode}" : "stopped";
        return LastErrorLine is { } line ? $"{_tool} {code}: {line}" : $"{_tool} {code}";
    }

    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Exited in between.
        }
        catch (Win32Exception)
        {
            // Exited in between, or already reaped.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Kill();
        await _process.WaitForExitAsync(CancellationToken.None);
        await _stderrPump;
        FfmpegLog.Exited(_logger, _tool, _process.Id, _process.ExitCode);
        _process.Dispose();
    }

    private async Task PumpStderrAsync()
    {
        try
        {
            StreamReader reader = _process.StandardError;
            while (await reader.ReadLineAsync(CancellationToken.None) is { } line)
            {
                line = Sanitize(line);
                if (line.Length == 0)
                {
                    continue;
                }

                FfmpegLog.Stderr(_logger, _tool, line);
                lock (_stderr)
                {
                    if (_stderr.Count == KeptStderrLines)
                    {
                        _stderr.Dequeue();
                    }

                    _stderr.Enqueue(line);
                }
            }
        }
        catch (IOException)
        {
            // The pipe broke because the process was killed.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Trims, drops control characters (ffmpeg prints carriage returns and colours) and bounds the length.</summary>
    private static string Sanitize(string line)
    {
        Span<char> buffer = stackalloc char[Math.Min(line.Length, MaxStderrLineLength)];
        int n = 0;
        foreach (char c in line)
        {
            if (n == buffer.Length)
            {
                break;
            }

            if (!char.IsControl(c))
            {
                buffer[n++] = c;
            }
        }

        return new string(buffer[..n]).Trim();
    }
}
