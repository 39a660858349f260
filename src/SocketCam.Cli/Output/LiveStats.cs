using System.Globalization;

namespace SocketCam.Cli.Output;

/// <summary>
/// Prints a status line once a second on standard error: rewritten in place on a terminal, one line every
/// few seconds when redirected (logs stay readable). Standard output stays free for --json.
/// </summary>
internal sealed class LiveStats
{
    private readonly Func<TimeSpan, string> _line;
    private readonly bool _interactive = !Console.IsErrorRedirected;
    private readonly bool _quiet;

    public LiveStats(Func<TimeSpan, string> line, bool quiet)
    {
        _line = line;
        _quiet = quiet;
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (_quiet)
        {
            return;
        }

        TimeSpan interval = TimeSpan.FromSeconds(_interactive ? 1 : 5);
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                Write(_line(interval));
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            if (_interactive)
            {
                await Console.Error.WriteLineAsync();
            }
        }
    }

    private void Write(string text)
    {
        if (_interactive)
        {
            int width = Console.IsOutputRedirected ? 120 : Math.Max(40, Console.WindowWidth - 1);
            Console.Error.Write("\r" + (text.Length > width ? text[..width] : text.PadRight(width)));
        }
        else
        {
            Console.Error.WriteLine(text);
        }
    }

    /// <summary>A line on standard output (a chat message) while a status line may sit on the terminal: the status line is cleared first, the next tick writes it again below.</summary>
    public static void WriteAboveStatus(string line)
    {
        if (!Console.IsErrorRedirected && !Console.IsOutputRedirected)
        {
            Console.Error.Write("\r\u001b[2K");
        }

        Console.Out.WriteLine(line);
    }

    public static string Rate(double bytesPerSecond) => bytesPerSecond switch
    {
        >= 1e9 / 8 => string.Create(CultureInfo.InvariantCulture, $"{bytesPerSecond * 8 / 1e9:0.00} Gbit/s"),
        >= 1e6 / 8 => string.Create(CultureInfo.InvariantCulture, $"{bytesPerSecond * 8 / 1e6:0.0} Mbit/s"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytesPerSecond * 8 / 1e3:0} kbit/s"),
    };

    /// <summary>"12.3 MB": a size for people (decimal units, like the rates).</summary>
    public static string Size(long bytes) => bytes switch
    {
        >= 1_000_000_000 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e9:0.00} GB"),
        >= 1_000_000 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e6:0.0} MB"),
        >= 1_000 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e3:0} kB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes} bytes"),
    };
}
