using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using SocketCam.Protocol;
using SocketCam.Transfer;

namespace SocketCam.Sniff;

/// <summary>What the first bytes of a TCP connection say it is.</summary>
internal enum StreamVerdict
{
    Undecided,
    SocketCam,
    NotSocketCam,
}

/// <summary>
/// Reads one TCP connection's two reassembled directions as SocketCam: the native framing (preface, then 8-byte headers,
/// v1 or v2 by the client's preface), the image transfer's TCP_OFFER + file + TCP_RESULT, or the seed tutorials' 8-byte
/// length + pickle. Passive and cheap: a message's header and the fields worth showing are read (<see cref="KeepOf"/>),
/// the rest (a video frame's picture) is only counted. A direction that breaks its format is marked malformed and read
/// no further; one that lost bytes to the capture waits for the next segment that starts with a header.
/// </summary>
internal sealed class StreamDissector
{
    private const ulong SeedLengthCap = 2UL * (40 << 20) + (64 << 10);

    /// <summary>The largest file a TCP_OFFER is believed to announce (receive-image takes at most 2 GiB).</summary>
    private const ulong ImageLengthCap = 1UL << 40;

    public StreamDissector(SessionFigures figures, bool midStream)
    {
        Figures = figures;
        FromClient = new Direction(this, fromClient: true);
        FromServer = new Direction(this, fromClient: false);
        if (midStream)
        {
            // Joined mid-way: no preface to read; either version's types, the version unknown.
            Figures.Format = SessionFormat.StreamMidway;
            Figures.MidStream = true;
            Verdict = StreamVerdict.SocketCam;
            FromClient.Resynchronise();
            FromServer.Resynchronise();
        }
    }

    public SessionFigures Figures { get; }
    public Direction FromClient { get; }
    public Direction FromServer { get; }
    public StreamVerdict Verdict { get; private set; }

    /// <summary>The session's frame cap: WELCOME's, else the largest any hub takes.</summary>
    public int MaxFrameBytes { get; private set; } = MessageNames.DefaultMaxFrameBytes;

    /// <summary>Messages read in whole: a mid-stream guess is trusted once a second header followed the first.</summary>
    public long Messages { get; private set; }

    /// <summary>Whether these bytes, at the start of a segment, look like a native message header of a stream whose version is unknown.</summary>
    public static bool LooksLikeHeader(ReadOnlySpan<byte> data) => LooksLikeHeader(data, SessionFormat.StreamMidway, MessageNames.DefaultMaxFrameBytes);

    private static bool LooksLikeHeader(ReadOnlySpan<byte> data, SessionFormat format, int maxFrameBytes) =>
        data.Length >= 8 && data[0] != 0 && data[1] == 0 && data[2] == 0 && data[3] == 0
        && BinaryPrimitives.ReadUInt32BigEndian(data[4..]) <= MessageNames.StreamCap(data[0], format, maxFrameBytes);

    /// <summary>
    /// Who sends a message of this type: true the client only (PING too: hubs answer, they do not ask), false the hub
    /// only, null either (frames flow both ways). Tells the ends of a connection joined mid-way.
    /// </summary>
    public static bool? SentByClient(byte type) => (MessageType)type switch
    {
        MessageType.Hello or MessageType.Join or MessageType.ListRooms or MessageType.Publish or MessageType.Unpublish
            or MessageType.Subscribe or MessageType.Unsubscribe or MessageType.ChatSend or MessageType.Ping or MessageType.UdpKeyRequest => true,
        MessageType.Welcome or MessageType.Result or MessageType.RoomList or MessageType.Pong or MessageType.UdpKey
            or MessageType.ChatHistory or MessageType.ChatMessage => false,
        _ when MessageParserV2.IsRoomEvent(type) => false,
        _ => null,
    };

    /// <summary>Bytes of a message's payload read for its fields: enough for each type's shown fields, never a picture.</summary>
    private static int KeepOf(byte type) => (MessageType)type switch
    {
        MessageType.Hello or MessageType.Join or MessageType.Error or MessageType.Goodbye => 8192, // whole (their caps)
        MessageType.Frame => 32,
        MessageType.VideoFrame or MessageType.Welcome => 24,
        _ => 0,
    };

    /// <summary>One direction's parser: a state machine fed bytes in order.</summary>
    internal sealed class Direction(StreamDissector owner, bool fromClient) : IByteStreamConsumer
    {
        private enum State { Detect, Preface, Header, Payload, ImageOffer, ImageData, ImageResult, SeedLength, SeedPayload, Resync, Done }

        private byte[] _buffer = new byte[64]; // grows to a JOIN's 8 KiB only when one comes
        private int _filled;
        private int _need = 16; // Detect: enough for every format's opening
        private State _state = State.Detect;
        private long _remaining; // Payload / ImageData / SeedPayload: bytes of the message still to come
        private byte _type;
        private long _length;

        /// <summary>Whether a segment starting with these bytes may carry the next header (while resynchronising).</summary>
        public bool CanResumeAt(ReadOnlySpan<byte> segment) => LooksLikeHeader(segment, owner.Figures.Format, owner.MaxFrameBytes);

        internal void Resynchronise() => _state = State.Resync;

        /// <summary>While resynchronising, a segment that starts like a header is taken as the next message's start.</summary>
        public void SegmentStart(ReadOnlySpan<byte> data)
        {
            if (_state == State.Resync && CanResumeAt(data))
            {
                Go(State.Header, 8);
            }
        }

        public void Consume(ReadOnlySpan<byte> data)
        {
            while (!data.IsEmpty && _state is not (State.Done or State.Resync))
            {
                if (_state is State.ImageData || (_state is State.Payload or State.SeedPayload && _filled >= _need))
                {
                    int skip = (int)Math.Min(_remaining, data.Length);
                    _remaining -= skip;
                    data = data[skip..];
                    if (_remaining == 0)
                    {
                        Complete();
                    }

                    continue;
                }

                int take = Math.Min(_need - _filled, data.Length);
                data[..take].CopyTo(_buffer.AsSpan(_filled));
                _filled += take;
                data = data[take..];
                if (_state is State.Payload or State.SeedPayload)
                {
                    _remaining -= take;
                    if (_remaining == 0)
                    {
                        Complete();
                    }
                }
                else if (_filled == _need)
                {
                    Complete();
                }
            }
        }

        public void Lost(long bytes)
        {
            if (_state is State.Done or State.Resync || bytes == 0)
            {
                return;
            }

            // Inside a payload past the part read, or in a file's bytes: nothing needed was lost, the count goes on.
            if (bytes <= _remaining && (_state is State.ImageData || (_state is State.Payload or State.SeedPayload && _filled >= _need)))
            {
                _remaining -= bytes;
                if (_remaining == 0)
                {
                    Complete();
                }

                return;
            }

            // Not the peer's fault: the capture missed bytes. A native stream picks up at the next header; the others end.
            owner.Figures.Resyncs++;
            _state = owner.Figures.Format is SessionFormat.V1 or SessionFormat.V2 or SessionFormat.StreamMidway ? State.Resync : State.Done;
        }

        private string Side => fromClient ? "from the client" : "from the server";

        private void Go(State state, int need)
        {
            _state = state;
            _need = need;
            _filled = 0;
            if (need > _buffer.Length)
            {
                _buffer = new byte[need];
            }
        }

        private void Fail(string what)
        {
            owner.Figures.MarkMalformed($"{Side}: {what}");
            _state = State.Done;
        }

        private void Complete()
        {
            ReadOnlySpan<byte> b = _buffer.AsSpan(0, _filled);
            switch (_state)
            {
                case State.Detect:
                    Detect(b);
                    break;
                case State.Preface:
                    Preface(b);
                    break;
                case State.Header:
                    Header(b);
                    break;
                case State.Payload:
                    Message(b);
                    Go(State.Header, 8);
                    break;
                case State.ImageOffer:
                    ImageOffer(b);
                    break;
                case State.ImageData:
                    owner.Figures.ImagePartsSeen = owner.Figures.ImageLength;
                    Go(State.ImageResult, 16); // anything after the file is not the format's: read as a header to judge it
                    break;
                case State.ImageResult:
                    ImageResult(b);
                    break;
                case State.SeedLength:
                    SeedLength(b);
                    break;
                case State.SeedPayload:
                    owner.Messages++;
                    owner.Figures.CountMessage(fromClient, "SEED_FRAME");
                    owner.Figures.Track("frames", fromClient).Count(_length, keyframe: true);
                    Go(State.SeedLength, 8);
                    break;
            }
        }

        private void Detect(ReadOnlySpan<byte> b)
        {
            // The other direction may have told already (the hub's preface comes first).
            if (owner.Verdict == StreamVerdict.SocketCam)
            {
                Resume(b);
                return;
            }

            uint magic = BinaryPrimitives.ReadUInt32BigEndian(b);
            if (magic == ProtocolConstants.Magic)
            {
                owner.Verdict = StreamVerdict.SocketCam;
                owner.Figures.Format = SessionFormat.StreamMidway; // until the client's preface says which version
                Resume(b);
            }
            else if (magic == TransferProtocol.Magic && fromClient && b[5] == (byte)TransferMessageType.TcpOffer)
            {
                owner.Verdict = StreamVerdict.SocketCam;
                owner.Figures.Format = SessionFormat.ImageTcp;
                Resume(b);
            }
            else if (!fromClient && BinaryPrimitives.ReadUInt64LittleEndian(b) is > 0 and <= SeedLengthCap && b[8] == 0x80 && b[9] is >= 2 and <= 5)
            {
                owner.Verdict = StreamVerdict.SocketCam;
                owner.Figures.Format = SessionFormat.Seed;
                Resume(b);
            }
            else
            {
                owner.Verdict = StreamVerdict.NotSocketCam;
                _state = State.Done;
            }
        }

        /// <summary>Re-reads the bytes gathered for detection in the format now known.</summary>
        private void Resume(ReadOnlySpan<byte> gathered)
        {
            byte[] copy = gathered.ToArray();
            switch (owner.Figures.Format)
            {
                case SessionFormat.ImageTcp:
                    Go(fromClient ? State.ImageOffer : State.ImageResult, fromClient ? TransferProtocol.TcpOfferBytes : TransferProtocol.TcpResultBytes);
                    break;
                case SessionFormat.Seed:
                    if (fromClient)
                    {
                        Fail("the seed format's client sends nothing");
                        return;
                    }

                    Go(State.SeedLength, 8);
                    break;
                default:
                    Go(State.Preface, 8);
                    break;
            }

            Consume(copy);
        }

        private void Preface(ReadOnlySpan<byte> b)
        {
            if (BinaryPrimitives.ReadUInt32BigEndian(b) != ProtocolConstants.Magic)
            {
                Fail("bad magic in the preface");
                return;
            }

            ushort version = BinaryPrimitives.ReadUInt16BigEndian(b[4..]);
            owner.Figures.CountMessage(fromClient, "PREFACE");
            if (fromClient)
            {
                // The session's version is the client's (§4.1).
                if (version is not (1 or 2))
                {
                    Fail($"preface version {version}");
                    return;
                }

                owner.Figures.Format = version == 2 ? SessionFormat.V2 : SessionFormat.V1;
            }

            Go(State.Header, 8);
        }

        private void Header(ReadOnlySpan<byte> b)
        {
            _type = b[0];
            _length = BinaryPrimitives.ReadUInt32BigEndian(b[4..]);
            long cap = MessageNames.StreamCap(_type, owner.Figures.Format, owner.MaxFrameBytes);
            if (cap < 0)
            {
                Fail($"message type 0x{_type:X2} ({MessageNames.OfStream(_type)}) is not one of {owner.Figures.FormatName}'s");
                return;
            }

            if (_length > cap)
            {
                Fail($"{MessageNames.OfStream(_type)} of {_length} bytes is over its cap of {cap}");
                return;
            }

            if (_length == 0)
            {
                Message([]);
                Go(State.Header, 8);
                return;
            }

            Go(State.Payload, (int)Math.Min(_length, KeepOf(_type))); // 0: the whole payload is skipped
            _remaining = _length;
        }

        private void Message(ReadOnlySpan<byte> kept)
        {
            owner.Messages++;
            SessionFigures f = owner.Figures;
            f.CountMessage(fromClient, MessageNames.OfStream(_type));
            try
            {
                Fields(kept);
            }
            catch (ProtocolException ex)
            {
                f.MarkMalformed($"{Side}: {MessageNames.OfStream(_type)}: {ex.Message}");
            }
        }

        /// <summary>The fields worth showing; each read only from what <see cref="KeepOf"/> kept, bounds checked.</summary>
        private void Fields(ReadOnlySpan<byte> p)
        {
            SessionFigures f = owner.Figures;
            switch ((MessageType)_type)
            {
                case MessageType.Hello:
                {
                    HelloMessage hello = MessageParser.ParseHello(new ReadOnlySequence<byte>(p.ToArray()));
                    f.Room = hello.Room;
                    f.Role = hello.Role == PeerRole.Publisher ? "publisher" : "viewer";
                    break;
                }

                case MessageType.Join:
                {
                    JoinMessage join = MessageParserV2.ParseJoin(p);
                    f.Room = join.Room;
                    f.Name = PrintableText.Of(join.Name);
                    f.Role = join.Hidden ? "hidden" : "participant";
                    break;
                }

                case MessageType.Welcome when !fromClient && p.Length >= 20:
                    owner.MaxFrameBytes = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(p[16..]), int.MaxValue);
                    break;
                case MessageType.VideoFrame when p.Length >= 24:
                {
                    TrackFigures t = f.Track("video", fromClient);
                    t.Codec = SessionFigures.CodecName(p[0]);
                    t.Width = BinaryPrimitives.ReadUInt16BigEndian(p[2..]);
                    t.Height = BinaryPrimitives.ReadUInt16BigEndian(p[4..]);
                    t.Count(_length - 24, keyframe: true);
                    break;
                }

                case MessageType.Frame when p.Length >= 32:
                {
                    uint participant = BinaryPrimitives.ReadUInt32BigEndian(p);
                    ushort track = BinaryPrimitives.ReadUInt16BigEndian(p[4..]);
                    int ext = BinaryPrimitives.ReadUInt16BigEndian(p[10..]);
                    if (32 + ext > _length)
                    {
                        throw new ProtocolException(ErrorCode.Malformed, $"ext_len {ext} runs past the message's {_length} bytes");
                    }

                    TrackFigures t = f.Track(fromClient ? $"t{track}" : $"p{participant}/t{track}", fromClient);
                    t.Kind = p[6] == 2 ? "audio" : p[6] == 1 ? "video" : $"kind-{p[6]}";
                    t.Codec = SessionFigures.CodecName(p[7]);
                    if (p[6] == 1)
                    {
                        t.Width = BinaryPrimitives.ReadUInt16BigEndian(p[12..]);
                        t.Height = BinaryPrimitives.ReadUInt16BigEndian(p[14..]);
                    }

                    t.Count(_length - 32 - ext, keyframe: (p[8] & 1) != 0);
                    break;
                }

                case MessageType.ChatSend:
                    f.ChatSent++;
                    break;
                case MessageType.ChatMessage:
                    f.ChatReceived++;
                    break;
                case MessageType.ChatHistory:
                    f.ChatHistory++;
                    break;
                case MessageType.KeyframeRequest:
                    f.KeyframeRequests++;
                    break;
                case MessageType.Error or MessageType.Goodbye when p.Length >= 4:
                {
                    ushort code = BinaryPrimitives.ReadUInt16BigEndian(p);
                    int textLength = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(p[2..]), p.Length - 4);
                    string text = StreamAccounting.Text(p.Slice(4, textLength));
                    f.EndReason = $"{MessageNames.OfStream(_type)} {StreamAccounting.ErrorName(code)}{(text.Length > 0 ? ": " + text : "")} ({(fromClient ? "client" : "server")})";
                    break;
                }
            }
        }

        private void ImageOffer(ReadOnlySpan<byte> b)
        {
            TcpOfferStatus status = TcpTransferHeader.TryParseOffer(b, out ulong length, out _);
            if (status != TcpOfferStatus.Valid)
            {
                Fail(status == TcpOfferStatus.UnsupportedVersion ? $"TCP_OFFER of version {b[4]}" : "expected TCP_OFFER");
                return;
            }

            owner.Figures.CountMessage(true, "TCP_OFFER");
            if (length > ImageLengthCap)
            {
                Fail($"TCP_OFFER announces {length} bytes");
                return;
            }

            owner.Figures.ImageLength = (long)length;
            owner.Figures.Track("file", true).Count((long)length, keyframe: false);
            if (length == 0)
            {
                Go(State.ImageResult, TransferProtocol.TcpResultBytes);
                return;
            }

            _state = State.ImageData;
            _remaining = (long)length;
        }

        private void ImageResult(ReadOnlySpan<byte> b)
        {
            if (!TcpTransferHeader.TryParseResult(b, out TransferCode code, out _))
            {
                Fail(fromClient ? "bytes after the file" : "expected TCP_RESULT");
                return;
            }

            owner.Figures.CountMessage(fromClient, "TCP_RESULT");
            owner.Figures.EndReason = code == 0 ? "TCP_RESULT ok" : $"TCP_RESULT {StreamAccounting.TransferCodeName((ushort)code)}";
            _state = State.Done;
        }

        private void SeedLength(ReadOnlySpan<byte> b)
        {
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(b);
            if (length is 0 or > SeedLengthCap)
            {
                Fail($"seed frame length {length}");
                return;
            }

            _length = (long)length;
            Go(State.SeedPayload, (int)Math.Min(length, 16));
            _remaining = (long)length;
        }
    }
}

/// <summary>Names and text for the figures.</summary>
internal static class StreamAccounting
{
    public static string ErrorName(ushort code) =>
        Enum.IsDefined((ErrorCode)code) ? ((ErrorCode)code).ToWireName() : code.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static string TransferCodeName(ushort code) =>
        Enum.IsDefined((TransferCode)code) ? ((TransferCode)code).ToString() : $"code {code}";

    /// <summary>A peer's text, made safe to print (control characters replaced).</summary>
    public static string Text(ReadOnlySpan<byte> bytes) => PrintableText.Of(Encoding.UTF8.GetString(bytes));
}
