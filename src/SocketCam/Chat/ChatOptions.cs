namespace SocketCam.Chat;

/// <summary>
/// The hub's text chat (docs/CHAT.md, docs/PROTOCOL.md §4.15): where the store lives and what one participant may send.
/// </summary>
public sealed record ChatOptions
{
    /// <summary>The directory that holds <c>chat.db</c> (created if missing). `serve --data DIR`; default <see cref="DefaultDirectory"/>.</summary>
    public string Directory { get; init; } = DefaultDirectory();

    /// <summary>How many of the last messages a join without resume gets; default 50 (`serve --chat-history`).</summary>
    public int HistoryOnJoin { get; init; } = 50;

    /// <summary>A participant's chat token bucket; default 10 messages at once.</summary>
    public int Burst { get; init; } = 10;

    /// <summary>Tokens added per second; default 2 (`serve --chat-rate`).</summary>
    public double RatePerSecond { get; init; } = 2;

    /// <summary>
    /// The per-user default: <c>$XDG_DATA_HOME/socketcam</c>, else <c>~/.local/share/socketcam</c> (on Windows and macOS the
    /// platform's local application data folder).
    /// </summary>
    public static string DefaultDirectory()
    {
        string? xdg = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        if (!string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg))
        {
            return Path.Combine(xdg, "socketcam");
        }

        string local = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
        return Path.Combine(string.IsNullOrEmpty(local) ? Path.GetTempPath() : local, "socketcam");
    }
}
