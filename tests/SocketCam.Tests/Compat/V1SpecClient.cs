using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SocketCam.Tests.Compat;

/// <summary>
/// A minimal version 1 client written from docs/PROTOCOL.md Part I (§1.1-§1.4) alone, as an independent check that a
/// v1 peer keeps working against the hub whatever its core becomes (issue 14, §4.12). It uses nothing of the engine:
/// no parser, writer, constant or enum of <c>SocketCam.*</c>, only <see cref="BinaryPrimitives"/> over a raw socket
/// (V1SpecClientIndependenceTests keeps it that way). It is strict: whatever the spec forbids a hub to send to a v1
/// client (a length above its cap, an unknown type, a v2 error code, a control character in a text, anything after
/// ERROR or GOODBYE...) throws <see cref="InvalidDataException"/>.
/// </summary>
internal sealed class V1SpecClient : IAsyncDisposable
{
    // ---- §1.1 preface --------------------------------------------------------------------------------------------
    public const int PrefaceSize = 8;
    public const uint Magic = 0x5343414D; // "SCAM"
    public const ushort Version = 1;

    // ---- §1.2 framing ------------------------------------------------------------------------------------------------
    public const int HeaderSize = 8;
    public const int FrameHeaderSize = 24;
    public const int ControlCap = 1024;
    public const int TextCap = 1024;
    public const int OwnFrameCap = 16 * 1024 * 1024;

    public const byte Hello = 0x01;
    public const byte Welcome = 0x02;
    public const byte VideoFrame = 0x10;
    public const byte Signal = 0x11;
    public const byte Ping = 0x20;
    public const byte Pong = 0x21;
    public const byte Error = 0x30;
    public const byte Goodbye = 0x31;

    // ---- §1.4 fields -------------------------------------------------------------------------------------------------
    public const byte RolePublisher = 1;
    public const byte RoleViewer = 2;
    public const byte CodecJpeg = 1;
    public const byte CodecRawBgr24 = 2;
    public const int MaxDimension = 8192;
    public const int WelcomeSize = 20;
    public const int PingSize = 16;
    public const int PongSize = 24;

    // ---- §1.4 error codes (0-14 are version 1's; 15-26 are v2's and "never sent to a v1 peer") --------------------------
    public const ushort CodeNormal = 0;
    public const ushort CodeBadMagic = 1;
    public const ushort CodeUnsupportedVersion = 2;
    public const ushort CodeMalformed = 3;
    public const ushort CodeTooLarge = 4;
    public const ushort CodeUnauthorized = 5;
    public const ushort CodeHandshakeTimeout = 6;
    public const ushort CodeRoomBusy = 7;
    public const ushort CodeBadFrame = 8;
    public const ushort CodeServerShutdown = 9;
    public const ushort CodeIdleTimeout = 10;
    public const ushort CodeTooManyClients = 11;
    public const ushort CodeThrottled = 12;
    public const ushort CodeTooSlow = 13;
    public const ushort CodeOverBudget = 14;
    public const ushort LastV1Code = CodeOverBudget;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private byte? _role;
    private bool _hubPrefaceRead;
    private bool _closedByHub; // an ERROR or GOODBYE was read: only the end of the stream may follow

    private V1SpecClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>The hub's WELCOME, once read.</summary>
    public WelcomeMessage? Welcomed { get; private set; }

    /// <summary>The hub's preface as it came (offsets 6-7 are ignored, as §1.1 says; a v2 hub puts max_version there).</summary>
    public byte[]? HubPreface { get; private set; }

    public static async Task<V1SpecClient> ConnectAsync(EndPoint hub, CancellationToken cancellationToken)
    {
        var socket = new Socket(hub.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(hub, cancellationToken);
            return new V1SpecClient(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Connects, exchanges prefaces, sends HELLO and reads WELCOME; anything else than WELCOME throws.</summary>
    public static async Task<V1SpecClient> JoinAsync(EndPoint hub, byte role, string room, CancellationToken cancellationToken, string token = "", string agent = "v1-spec-client/1.0")
    {
        V1SpecClient client = await ConnectAsync(hub, cancellationToken);
        try
        {
            await client.HandshakeAsync(role, room, cancellationToken, token, agent);
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    /// <summary>Reads and checks the hub's preface, sends ours and HELLO, reads WELCOME (throws on anything else).</summary>
    public async Task<WelcomeMessage> HandshakeAsync(byte role, string room, CancellationToken cancellationToken, string token = "", string agent = "v1-spec-client/1.0")
    {
        await ReadHubPrefaceAsync(cancellationToken);
        await SendPrefaceAsync(cancellationToken);
        await SendHelloAsync(role, room, token, agent, cancellationToken);
        Message? answer = await ReadMessageAsync(cancellationToken);
        if (answer is null)
        {
            throw new InvalidDataException("The hub closed the connection instead of answering HELLO.");
        }

        if (answer.Value.Type != Welcome)
        {
            string detail = answer.Value.Type is Error or Goodbye ? $": code {answer.Value.AsClose().Code}, '{answer.Value.AsClose().Text}'" : "";
            throw new InvalidDataException($"The hub answered HELLO with type 0x{answer.Value.Type:X2}{detail}.");
        }

        return answer.Value.AsWelcome();
    }

    // ---- preface (§1.1) --------------------------------------------------------------------------------------------

    /// <summary>Reads the hub's 8-byte preface: magic <c>SCAM</c>, version 1; offsets 6-7 are ignored.</summary>
    public async Task<byte[]> ReadHubPrefaceAsync(CancellationToken cancellationToken)
    {
        if (_hubPrefaceRead)
        {
            throw new InvalidOperationException("The hub's preface was read already.");
        }

        byte[] preface = new byte[PrefaceSize];
        if (!await ReadExactAsync(preface, cancellationToken))
        {
            throw new InvalidDataException("The hub closed the connection before its preface.");
        }

        uint magic = BinaryPrimitives.ReadUInt32BigEndian(preface);
        if (magic != Magic)
        {
            throw new InvalidDataException($"The hub's preface has magic 0x{magic:X8}, not SCAM.");
        }

        ushort version = BinaryPrimitives.ReadUInt16BigEndian(preface.AsSpan(4));
        if (version != Version)
        {
            throw new InvalidDataException($"The hub's preface says version {version}; this client speaks version 1.");
        }

        _hubPrefaceRead = true;
        HubPreface = preface;
        return preface;
    }

    public Task SendPrefaceAsync(CancellationToken cancellationToken)
    {
        byte[] preface = new byte[PrefaceSize];
        BinaryPrimitives.WriteUInt32BigEndian(preface, Magic);
        BinaryPrimitives.WriteUInt16BigEndian(preface.AsSpan(4), Version);
        BinaryPrimitives.WriteUInt16BigEndian(preface.AsSpan(6), 0);
        return SendAsync(preface, cancellationToken);
    }

    // ---- sending (§1.4) --------------------------------------------------------------------------------------------

    /// <summary>HELLO: role, room (1..64 of <c>[A-Za-z0-9._-]</c>), token (0..255 bytes), agent (0..64 bytes, no control characters).</summary>
    public Task SendHelloAsync(byte role, string room, string token, string agent, CancellationToken cancellationToken)
    {
        if (role is not (RolePublisher or RoleViewer))
        {
            throw new ArgumentOutOfRangeException(nameof(role), role, "1 = publisher, 2 = viewer");
        }

        if (room.Length is < 1 or > 64 || !room.All(c => c is (>= 'A' and <= 'Z') or (>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '_' or '-'))
        {
            throw new ArgumentException("A room is 1..64 of [A-Za-z0-9._-].", nameof(room));
        }

        byte[] roomBytes = Encoding.ASCII.GetBytes(room);
        byte[] tokenBytes = StrictUtf8.GetBytes(token);
        byte[] agentBytes = StrictUtf8.GetBytes(agent);
        if (tokenBytes.Length > 255)
        {
            throw new ArgumentException("A token is at most 255 bytes.", nameof(token));
        }

        if (agentBytes.Length > 64 || HasControlCharacter(agent))
        {
            throw new ArgumentException("An agent is at most 64 bytes, without control characters.", nameof(agent));
        }

        int payloadLength = 1 + 1 + roomBytes.Length + 1 + tokenBytes.Length + 1 + agentBytes.Length;
        byte[] message = new byte[HeaderSize + payloadLength];
        WriteHeader(message, Hello, payloadLength);
        Span<byte> p = message.AsSpan(HeaderSize);
        p[0] = role;
        p[1] = (byte)roomBytes.Length;
        roomBytes.CopyTo(p[2..]);
        int at = 2 + roomBytes.Length;
        p[at++] = (byte)tokenBytes.Length;
        tokenBytes.CopyTo(p[at..]);
        at += tokenBytes.Length;
        p[at++] = (byte)agentBytes.Length;
        agentBytes.CopyTo(p[at..]);
        _role = role;
        return SendAsync(message, cancellationToken);
    }

    /// <summary>A whole VIDEO_FRAME: the 8-byte message header, the 24-byte frame header, the picture.</summary>
    public static byte[] BuildVideoFrame(byte codec, int width, int height, ulong sequence, long captureMicros, ReadOnlySpan<byte> data)
    {
        byte[] message = new byte[HeaderSize + FrameHeaderSize + data.Length];
        WriteHeader(message, VideoFrame, FrameHeaderSize + data.Length);
        Span<byte> f = message.AsSpan(HeaderSize);
        f[0] = codec;
        f[1] = 0; // frame_flags
        BinaryPrimitives.WriteUInt16BigEndian(f[2..], checked((ushort)width));
        BinaryPrimitives.WriteUInt16BigEndian(f[4..], checked((ushort)height));
        BinaryPrimitives.WriteUInt16BigEndian(f[6..], 0);
        BinaryPrimitives.WriteUInt64BigEndian(f[8..], sequence);
        BinaryPrimitives.WriteInt64BigEndian(f[16..], captureMicros);
        data.CopyTo(f[FrameHeaderSize..]);
        return message;
    }

    public Task SendVideoFrameAsync(byte codec, int width, int height, ulong sequence, long captureMicros, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        SendAsync(BuildVideoFrame(codec, width, height, sequence, captureMicros, data.Span), cancellationToken);

    public Task SendSignalAsync(bool live, string text, CancellationToken cancellationToken)
    {
        byte[] textBytes = StrictUtf8.GetBytes(text);
        byte[] message = new byte[HeaderSize + 4 + textBytes.Length];
        WriteHeader(message, Signal, 4 + textBytes.Length);
        message[HeaderSize] = live ? (byte)1 : (byte)0;
        message[HeaderSize + 1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(HeaderSize + 2), checked((ushort)textBytes.Length));
        textBytes.CopyTo(message.AsSpan(HeaderSize + 4));
        return SendAsync(message, cancellationToken);
    }

    public Task SendPingAsync(uint id, long sentMicros, CancellationToken cancellationToken)
    {
        byte[] message = new byte[HeaderSize + PingSize];
        WriteHeader(message, Ping, PingSize);
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(HeaderSize), id);
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(HeaderSize + 4), 0);
        BinaryPrimitives.WriteInt64BigEndian(message.AsSpan(HeaderSize + 8), sentMicros);
        return SendAsync(message, cancellationToken);
    }

    public Task SendPongAsync(uint id, long echoSentMicros, long peerTimeMicros, CancellationToken cancellationToken)
    {
        byte[] message = new byte[HeaderSize + PongSize];
        WriteHeader(message, Pong, PongSize);
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(HeaderSize), id);
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(HeaderSize + 4), 0);
        BinaryPrimitives.WriteInt64BigEndian(message.AsSpan(HeaderSize + 8), echoSentMicros);
        BinaryPrimitives.WriteInt64BigEndian(message.AsSpan(HeaderSize + 16), peerTimeMicros);
        return SendAsync(message, cancellationToken);
    }

    public Task SendGoodbyeAsync(ushort code, string text, CancellationToken cancellationToken)
    {
        byte[] textBytes = StrictUtf8.GetBytes(text);
        byte[] message = new byte[HeaderSize + 4 + textBytes.Length];
        WriteHeader(message, Goodbye, 4 + textBytes.Length);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(HeaderSize), code);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(HeaderSize + 2), checked((ushort)textBytes.Length));
        textBytes.CopyTo(message.AsSpan(HeaderSize + 4));
        return SendAsync(message, cancellationToken);
    }

    /// <summary>Sends bytes as they are (for a test that sends what a client of the spec would not).</summary>
    public async Task SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        await _sendLock.WaitAsync(cancellationToken);
        try
        {
            await _stream.WriteAsync(bytes, cancellationToken);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    // ---- receiving -------------------------------------------------------------------------------------------------

    /// <summary>
    /// Reads one message from the hub and checks it against the spec before returning it; null when the hub closed the
    /// connection (end of stream or reset) between messages. The length is checked against the type's cap before the
    /// payload is read or allocated.
    /// </summary>
    public async Task<Message?> ReadMessageAsync(CancellationToken cancellationToken)
    {
        if (!_hubPrefaceRead)
        {
            await ReadHubPrefaceAsync(cancellationToken);
        }

        byte[] header = new byte[HeaderSize];
        if (!await ReadExactAsync(header, cancellationToken))
        {
            return null;
        }

        if (_closedByHub)
        {
            throw new InvalidDataException($"The hub sent a message (type 0x{header[0]:X2}) after its ERROR or GOODBYE; nothing may follow them.");
        }

        byte type = header[0];
        byte flags = header[1]; // "receivers ignore unknown flags"
        ushort reserved = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2));
        uint length = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4));
        if (reserved != 0)
        {
            throw new InvalidDataException($"Message type 0x{type:X2} has reserved header bytes 0x{reserved:X4}, not 0.");
        }

        long cap = type switch
        {
            Welcome => ControlCap,
            VideoFrame => FrameHeaderSize + (long)Math.Min(OwnFrameCap, Welcomed?.MaxFrameBytes ?? 0u),
            Signal => 4 + TextCap,
            Ping => PingSize,
            Pong => PongSize,
            Error or Goodbye => 4 + TextCap,
            Hello => throw new InvalidDataException("The hub sent HELLO, which only a client sends."),
            _ => throw new InvalidDataException($"Unknown message type 0x{type:X2}: version 1 has no optional messages."),
        };
        if (length > cap)
        {
            throw new InvalidDataException($"Message type 0x{type:X2} announces {length} bytes; its cap is {cap}.");
        }

        if (Welcomed is null && type is not (Welcome or Error or Goodbye))
        {
            throw new InvalidDataException($"The hub sent type 0x{type:X2} before WELCOME.");
        }

        byte[] payload = new byte[length];
        if (length > 0 && !await ReadExactAsync(payload, cancellationToken))
        {
            throw new InvalidDataException($"The hub closed the connection before the payload of type 0x{type:X2} ({length} bytes).");
        }

        var message = new Message(type, flags, payload);
        switch (type)
        {
            case Welcome:
                if (Welcomed is not null)
                {
                    throw new InvalidDataException("A second WELCOME.");
                }

                Welcomed = message.AsWelcome();
                break;
            case VideoFrame:
                if (_role != RoleViewer)
                {
                    throw new InvalidDataException("The hub sent VIDEO_FRAME to a publisher.");
                }

                message.AsFrame();
                break;
            case Signal:
                if (_role != RoleViewer)
                {
                    // "The hub never sends SIGNAL to a publisher; a publisher that receives one treats it as malformed."
                    throw new InvalidDataException("The hub sent SIGNAL to a publisher.");
                }

                message.AsSignal();
                break;
            case Ping:
                message.AsPing();
                break;
            case Pong:
                message.AsPong();
                break;
            default: // ERROR or GOODBYE
                message.AsClose();
                _closedByHub = true;
                break;
        }

        return message;
    }

    /// <summary>The next message other than PING (each PING is answered with PONG, as a client does); null at the end of the stream.</summary>
    public async Task<Message?> NextAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Message? message = await ReadMessageAsync(cancellationToken);
            if (message is { Type: Ping } ping)
            {
                PingMessage p = ping.AsPing();
                await SendPongAsync(p.Id, p.SentMicros, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000, cancellationToken);
                continue;
            }

            return message;
        }
    }

    /// <summary>Reads until the hub ends the stream; anything it still sends fails (after ERROR/GOODBYE nothing may follow).</summary>
    public async Task ReadEndAsync(CancellationToken cancellationToken)
    {
        Message? message = await ReadMessageAsync(cancellationToken);
        if (message is not null)
        {
            throw new InvalidDataException($"Expected the hub to close the connection, got type 0x{message.Value.Type:X2}.");
        }
    }

    /// <summary>Half-closes our side (FIN).</summary>
    public void ShutdownSend() => _socket.Shutdown(SocketShutdown.Send);

    /// <summary>Drops the connection at once, without GOODBYE (a reset, as a crashed peer or a lost path looks).</summary>
    public void Abort()
    {
        _socket.LingerState = new LingerOption(true, 0);
        _socket.Close();
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _sendLock.Dispose();
    }

    /// <summary>Fills <paramref name="buffer"/>; false when the stream ended (or was reset) before its first byte.</summary>
    private async Task<bool> ReadExactAsync(byte[] buffer, CancellationToken cancellationToken)
    {
        int filled = 0;
        while (filled < buffer.Length)
        {
            int read;
            try
            {
                read = await _stream.ReadAsync(buffer.AsMemory(filled), cancellationToken);
            }
            catch (IOException ex) when (ex.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset or SocketError.ConnectionAborted })
            {
                read = 0;
            }

            if (read == 0)
            {
                if (filled == 0)
                {
                    return false;
                }

                throw new InvalidDataException($"The hub closed the connection after {filled} of {buffer.Length} bytes.");
            }

            filled += read;
        }

        return true;
    }

    private static void WriteHeader(Span<byte> message, byte type, int payloadLength)
    {
        message[0] = type;
        message[1] = 0; // flags
        BinaryPrimitives.WriteUInt16BigEndian(message[2..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(message[4..], checked((uint)payloadLength));
    }

    private static bool HasControlCharacter(string text)
    {
        foreach (Rune rune in text.EnumerateRunes())
        {
            if (Rune.IsControl(rune))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A text field: <c>text_len</c> at <paramref name="at"/>, then exactly the rest of the payload; UTF-8, at most 1024 bytes, no control characters.</summary>
    private static string ReadText(byte[] payload, int at, string what)
    {
        int textLength = BinaryPrimitives.ReadUInt16BigEndian(payload.AsSpan(at));
        if (textLength > TextCap)
        {
            throw new InvalidDataException($"{what}: text_len {textLength} is above {TextCap}.");
        }

        if (payload.Length != at + 2 + textLength)
        {
            throw new InvalidDataException($"{what}: payload is {payload.Length} bytes but text_len says {at + 2 + textLength}.");
        }

        string text;
        try
        {
            text = StrictUtf8.GetString(payload, at + 2, textLength);
        }
        catch (DecoderFallbackException ex)
        {
            throw new InvalidDataException($"{what}: text is not UTF-8.", ex);
        }

        if (HasControlCharacter(text))
        {
            throw new InvalidDataException($"{what}: text has a control character: '{text}'.");
        }

        return text;
    }

    // ---- messages --------------------------------------------------------------------------------------------------

    /// <summary>A message as read: type, header flags, payload (all already checked by <see cref="ReadMessageAsync"/>).</summary>
    internal readonly record struct Message(byte Type, byte Flags, byte[] Payload)
    {
        public WelcomeMessage AsWelcome()
        {
            Expect(Welcome);
            if (Payload.Length < WelcomeSize)
            {
                throw new InvalidDataException($"WELCOME is {Payload.Length} bytes, shorter than its {WelcomeSize} fixed bytes.");
            }

            return new WelcomeMessage(
                BinaryPrimitives.ReadUInt64BigEndian(Payload),
                BinaryPrimitives.ReadInt64BigEndian(Payload.AsSpan(8)),
                BinaryPrimitives.ReadUInt32BigEndian(Payload.AsSpan(16)));
        }

        public FrameMessage AsFrame()
        {
            Expect(VideoFrame);
            if (Payload.Length < FrameHeaderSize)
            {
                throw new InvalidDataException($"VIDEO_FRAME is {Payload.Length} bytes, shorter than its {FrameHeaderSize}-byte header.");
            }

            ReadOnlySpan<byte> f = Payload;
            byte codec = f[0];
            byte frameFlags = f[1];
            int width = BinaryPrimitives.ReadUInt16BigEndian(f[2..]);
            int height = BinaryPrimitives.ReadUInt16BigEndian(f[4..]);
            ushort reserved = BinaryPrimitives.ReadUInt16BigEndian(f[6..]);
            ulong sequence = BinaryPrimitives.ReadUInt64BigEndian(f[8..]);
            long captureMicros = BinaryPrimitives.ReadInt64BigEndian(f[16..]);
            byte[] data = f[FrameHeaderSize..].ToArray();
            if (codec is not (CodecJpeg or CodecRawBgr24))
            {
                throw new InvalidDataException($"VIDEO_FRAME codec {codec}: version 1 has 1 (JPEG) and 2 (raw BGR24).");
            }

            if (frameFlags != 0 || reserved != 0)
            {
                throw new InvalidDataException($"VIDEO_FRAME frame_flags {frameFlags} / reserved {reserved}: both are 0 in version 1.");
            }

            if (width is < 1 or > MaxDimension || height is < 1 or > MaxDimension)
            {
                throw new InvalidDataException($"VIDEO_FRAME size {width}x{height} is outside 1..{MaxDimension}.");
            }

            if (codec == CodecRawBgr24 && data.Length != width * height * 3)
            {
                throw new InvalidDataException($"Raw BGR24 {width}x{height} must be {width * height * 3} bytes, not {data.Length}.");
            }

            // The hub checks every JPEG's structure (SOI ... EOI at the very end), so one that reaches a viewer has both.
            if (codec == CodecJpeg && (data.Length < 4 || data[0] != 0xFF || data[1] != 0xD8 || data[^2] != 0xFF || data[^1] != 0xD9))
            {
                throw new InvalidDataException("VIDEO_FRAME JPEG does not start with SOI and end with EOI.");
            }

            return new FrameMessage(codec, width, height, sequence, captureMicros, data);
        }

        public SignalMessage AsSignal()
        {
            Expect(Signal);
            if (Payload.Length < 4)
            {
                throw new InvalidDataException($"SIGNAL is {Payload.Length} bytes, shorter than its 4 fixed bytes.");
            }

            byte state = Payload[0]; // Payload[1] is reserved: "receivers ignore it"
            if (state > 1)
            {
                throw new InvalidDataException($"SIGNAL state {state}: 0 = no signal, 1 = live, anything else is malformed.");
            }

            return new SignalMessage(state == 1, ReadText(Payload, 2, "SIGNAL"));
        }

        public PingMessage AsPing()
        {
            Expect(Ping);
            if (Payload.Length != PingSize || BinaryPrimitives.ReadUInt32BigEndian(Payload.AsSpan(4)) != 0)
            {
                throw new InvalidDataException($"PING must be {PingSize} bytes with reserved 0.");
            }

            return new PingMessage(BinaryPrimitives.ReadUInt32BigEndian(Payload), BinaryPrimitives.ReadInt64BigEndian(Payload.AsSpan(8)));
        }

        public PongMessage AsPong()
        {
            Expect(Pong);
            if (Payload.Length != PongSize || BinaryPrimitives.ReadUInt32BigEndian(Payload.AsSpan(4)) != 0)
            {
                throw new InvalidDataException($"PONG must be {PongSize} bytes with reserved 0.");
            }

            return new PongMessage(
                BinaryPrimitives.ReadUInt32BigEndian(Payload),
                BinaryPrimitives.ReadInt64BigEndian(Payload.AsSpan(8)),
                BinaryPrimitives.ReadInt64BigEndian(Payload.AsSpan(16)));
        }

        /// <summary>ERROR or GOODBYE: a v1 code (0-14; 0 only for GOODBYE) and its text.</summary>
        public CloseMessage AsClose()
        {
            if (Type is not (Error or Goodbye))
            {
                throw new InvalidOperationException($"Type 0x{Type:X2} is neither ERROR nor GOODBYE.");
            }

            string what = Type == Error ? "ERROR" : "GOODBYE";
            if (Payload.Length < 4)
            {
                throw new InvalidDataException($"{what} is {Payload.Length} bytes, shorter than its 4 fixed bytes.");
            }

            ushort code = BinaryPrimitives.ReadUInt16BigEndian(Payload);
            if (code > LastV1Code)
            {
                throw new InvalidDataException($"{what} code {code} is not a version 1 code (codes 15-26 are never sent to a v1 peer).");
            }

            if (code == CodeNormal && Type == Error)
            {
                throw new InvalidDataException("ERROR with code 0 (normal), which is for GOODBYE only.");
            }

            return new CloseMessage(code, ReadText(Payload, 2, what));
        }

        private void Expect(byte type)
        {
            if (Type != type)
            {
                throw new InvalidOperationException($"Type 0x{Type:X2} is not 0x{type:X2}.");
            }
        }
    }

    internal readonly record struct WelcomeMessage(ulong SessionId, long ServerTimeMicros, uint MaxFrameBytes);

    internal sealed record FrameMessage(byte Codec, int Width, int Height, ulong Sequence, long CaptureMicros, byte[] Data);

    internal readonly record struct SignalMessage(bool Live, string Text);

    internal readonly record struct PingMessage(uint Id, long SentMicros);

    internal readonly record struct PongMessage(uint Id, long EchoSentMicros, long PeerTimeMicros);

    internal readonly record struct CloseMessage(ushort Code, string Text);
}
