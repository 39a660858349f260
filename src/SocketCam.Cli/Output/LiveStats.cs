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
            Console.Error.Write(InPlace(text, width));
        }
        else
        {
            Console.Error.WriteLine(text);
        }
    }

    /// <summary>
    /// The status line rewritten in place: back to column 0, the text (cut to the terminal), then erase to the end of the line.
    /// Not padded: a line padded to the full width leaves the cursor in the last column, so the next log line would start there.
    /// </summary>
    internal static string InPlace(string text, int width) => "\r" + (text.Length > width ? text[..width] : text) + "\u001b[K";

    /// <summary>A line on standard output (a chat message) while a status line may sit on the terminal: the status line is cleared first, the next tick writes it again below.</summary>
    public static void WriteAboveStatus(string line)
    {
        if (!Console.IsErrorRedirected && !Console.IsOutputRedirected)
        {
            Console.Error.Write("\r\u001b[2K");
        }

        Console.Out.WriteLine(line);
    }

    /// <summary>
    /// Per second from a running total: never negative, even when the total dips (a client leaving the sum while its bytes
    /// are being moved to the departed total); the dip is not counted again when the total comes back.
    /// </summary>
    internal sealed class CounterRate
    {
        private long _last;

        public CounterRate(long start = 0) => _last = start;

        public double PerSecond(long total, TimeSpan interval)
        {
            long delta = Math.Max(0, total - _last);
            _last = Math.Max(_last, total);
            return delta / interval.TotalSeconds;
        }
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
