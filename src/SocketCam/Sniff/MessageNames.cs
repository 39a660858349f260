using SocketCam.Protocol;
using SocketCam.Udp;

namespace SocketCam.Sniff;

/// <summary>The wire names of message and datagram types (docs/PROTOCOL.md's spelling: VIDEO_FRAME, CHAT_SEND), and their caps.</summary>
internal static class MessageNames
{
    private static readonly string?[] Stream = Table<MessageType>();
    private static readonly string?[] Datagram = Table<DatagramType>();

    /// <summary>A stream message's name; an unknown type by its code (v2's optional ones are legal).</summary>
    public static string OfStream(byte type) => Stream[type] ?? $"0x{type:X2}";

    /// <summary>The largest frame a hub takes (`serve --max-frame-bytes` at most): the frame cap until a WELCOME says the session's.</summary>
    public const int DefaultMaxFrameBytes = 256 << 20;

    /// <summary>
    /// The payload cap of a stream message type in a session of this format, from the parsers the hub and the clients
    /// use (§1.2, §4.2): -1 for a type the format does not have. v2's unknown optional types are skipped within 64 KiB; a
    /// stream joined mid-way takes either version's types.
    /// </summary>
    public static long StreamCap(byte type, SessionFormat format, int maxFrameBytes)
    {
        long v1 = V1Cap(type, maxFrameBytes);
        long v2 = MessageParserV2.PayloadCap(type, maxFrameBytes);
        if (v2 < 0 && (type & 0x80) != 0)
        {
            v2 = ProtocolV2.MaxOptionalPayload;
        }

        return format switch
        {
            SessionFormat.V1 => v1,
            SessionFormat.V2 => (MessageType)type is MessageType.Hello or MessageType.VideoFrame or MessageType.Signal ? -1 : v2,
            _ => Math.Max(v1, v2),
        };
    }

    private static long V1Cap(byte type, int maxFrameBytes) => V1Types[type] ? MessageParser.PayloadCap((MessageType)type, maxFrameBytes) : -1;

    // The types version 1 has: the ones its parser gives a cap (asked once, here, not per message).
    private static readonly bool[] V1Types = [.. Enumerable.Range(0, 256).Select(t =>
    {
        try
        {
            MessageParser.PayloadCap((MessageType)t, 0);
            return true;
        }
        catch (ProtocolException)
        {
            return false;
        }
    })];

    public static string OfDatagram(byte type) => Datagram[type] ?? $"0x{type:X2}";

    /// <summary>VideoFrame → VIDEO_FRAME.</summary>
    private static string?[] Table<T>() where T : struct, Enum
    {
        var names = new string?[256];
        foreach (T value in Enum.GetValues<T>())
        {
            string name = value.ToString();
            var sb = new System.Text.StringBuilder();
            for (int i = 0; i < name.Length; i++)
            {
                if (i > 0 && char.IsUpper(name[i]))
                {
                    sb.Append('_');
                }

                sb.Append(char.ToUpperInvariant(name[i]));
            }

            names[Convert.ToByte(value, System.Globalization.CultureInfo.InvariantCulture)] = sb.ToString();
        }

        return names;
    }
}
