using System.Buffers;
using System.IO.Pipelines;
using SocketCam.Protocol;
using SocketCam.Transport;
using SocketCam.Udp;

namespace SocketCam.Client;

/// <summary>
/// The TLS half of `udp+tls://HOST:PORT` (docs/PROTOCOL.md §2.0 "Encrypted sessions"): TLS to the hub's stream port
/// (trusted as for `tls://`: `--ca`, `--fingerprint` or the system store), preface and UDP_KEY_REQUEST (HELLO's fields),
/// the hub's UDP_KEY back; the connection is closed at once. The keys never leave this process otherwise.
/// </summary>
internal static class UdpKeyExchange
{
    public const string Scheme = "udp+tls";

    public static bool IsSealed(StreamEndpoint endpoint) => string.Equals(endpoint.Scheme, Scheme, StringComparison.Ordinal);

    /// <summary>Keys for one session; a refusal is a <see cref="RemoteErrorException"/> with the hub's one line.</summary>
    public static async Task<UdpSessionKeys> RequestAsync(StreamEndpoint endpoint, PeerRole role, ClientOptions options, CancellationToken cancellationToken)
    {
        byte[] opening = new byte[ProtocolConstants.PrefaceSize + MessageWriter.MaxControlMessageSize];
        int length = MessageWriter.WritePreface(opening);
        int hello = MessageWriter.WriteHello(opening.AsSpan(length), new HelloMessage(role, options.Room, options.Token ?? "", options.Agent));
        opening[length] = (byte)MessageType.UdpKeyRequest; // the same payload as HELLO, another type
        length += hello;
        var tls = new StreamEndpoint(StreamEndpoint.TlsScheme, endpoint.Host, endpoint.Port);
        HubLink<UdpSessionKeys> link = await HubHandshake.ConnectAsync(tls, options, boundBuffers: false, opening.AsMemory(0, length), ReadKeysAsync, cancellationToken);
        await HubHandshake.DisposeAllAsync(link.Socket, link.Stream, link.Reader);
        return link.Welcome;
    }

    private static async Task<UdpSessionKeys> ReadKeysAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        bool prefaceDone = false;
        while (true)
        {
            ReadResult result = await reader.ReadAsync(cancellationToken);
            ReadOnlySequence<byte> buffer = result.Buffer;
            try
            {
                prefaceDone = prefaceDone || MessageParser.TryReadPreface(ref buffer);
                if (prefaceDone && MessageParser.TryReadMessage(ref buffer, 0, out MessageType type, out ReadOnlySequence<byte> payload))
                {
                    switch (type)
                    {
                        case MessageType.UdpKey when UdpSessionKeys.TryRead(payload.ToArray(), out UdpSessionKeys? keys):
                            return keys!;
                        case MessageType.Error or MessageType.Goodbye:
                            CloseMessage close = MessageParser.ParseClose(payload);
                            throw close.Text.StartsWith("Expected HELLO first", StringComparison.Ordinal)
                                ? new RemoteErrorException(close.Code, "the hub does not give encrypted UDP keys (an older build?): use udp:// or tls://")
                                : ClientSession.ToRemoteError(close);
                        default:
                            throw new ProtocolException(ErrorCode.Malformed, $"Expected UDP_KEY, got {type}.");
                    }
                }

                if (result.IsCompleted)
                {
                    throw new IOException("The server closed the connection before giving UDP keys.");
                }
            }
            finally
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
            }
        }
    }
}
