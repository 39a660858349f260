using System.Diagnostics;
using System.Globalization;

namespace SocketCam.Cli.Bench;

/// <summary>
/// The benches' chat messages carry their send time (this process's Stopwatch) as the text's first word, so every
/// receiver in the same process can tell send → shown without any per-message bookkeeping.
/// </summary>
internal static class BenchChatText
{
    public static string Stamped(string rest) => Stopwatch.GetTimestamp().ToString(CultureInfo.InvariantCulture) + " " + rest;

    /// <summary>Milliseconds since the message was stamped; false for a text without a stamp.</summary>
    public static bool TryElapsed(string text, out double milliseconds)
    {
        milliseconds = 0;
        int space = text.IndexOf(' ', StringComparison.Ordinal);
        if (space <= 0 || !long.TryParse(text.AsSpan(0, space), NumberStyles.None, CultureInfo.InvariantCulture, out long sent))
        {
            return false;
        }

        milliseconds = Stopwatch.GetElapsedTime(sent).TotalMilliseconds;
        return true;
    }
}
