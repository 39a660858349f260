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

    public static bool IsKnownStream(byte type, bool v1) => Stream[type] is not null && (!v1 || type < 0x40 || type is 0x60 or 0x61);

    public static string OfDatagram(byte type) => Datagram[type] ?? $"0x{type:X2}";

    public static bool IsKnownDatagram(byte type) => Datagram[type] is not null;

    /// <summary>The payload cap of a stream message type (§1.2, §4.2); frames get room for any --max-frame-bytes.</summary>
    public static long StreamCap(byte type) => (MessageType)type switch
    {
        MessageType.VideoFrame => 24 + (1L << 30),
        MessageType.Frame => 32 + 1024 + (1L << 30),
        MessageType.Hello or MessageType.Welcome or MessageType.Publish or MessageType.UdpKeyRequest => 1024,
        MessageType.Join => 8192,
        MessageType.Result or MessageType.SourceState or MessageType.TrackState => 2048,
        MessageType.ListRooms => 4098,
        MessageType.RoomList => 1 << 20,
        MessageType.Signal or MessageType.Error or MessageType.Goodbye => 4 + 1024,
        MessageType.KeyframeRequest or MessageType.ParticipantLeft or MessageType.TrackUnpublished or MessageType.Unpublish
            or MessageType.Subscribe or MessageType.Unsubscribe => 256,
        MessageType.Ping => 16,
        MessageType.Pong => 24,
        MessageType.UdpKey => 84,
        MessageType.ParticipantJoined or MessageType.TrackPublished => 4096,
        _ => 64 * 1024, // RoomSnapshot, chat, and any optional type (§4.2: skipped within 64 KiB)
    };

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
