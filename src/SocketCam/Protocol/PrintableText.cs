namespace SocketCam.Protocol;

/// <summary>
/// Text from a peer or a tool made safe to print: what a host quotes in its log lines and answers (a request's path, an
/// Origin header, a room name it refused). The same rule the wire's texts follow.
/// </summary>
public static class PrintableText
{
    /// <summary><paramref name="text"/> with every control character replaced by a space.</summary>
    public static string Of(string text) => MessageWriter.Printable(text);
}
