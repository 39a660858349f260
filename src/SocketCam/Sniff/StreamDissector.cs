using System.Buffers.Binary;
using System.Text;
using SocketCam.Protocol;

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
/// length + pickle. Passive and cheap: a message's header and the first bytes of its payload (<see cref="Keep"/>) are
/// read, the rest (a video frame's picture) is only counted. A direction that breaks its format is marked malformed and
/// read no further.
/// </summary>
internal sealed class StreamDissector
{
    /// <summary>Bytes of a message's payload kept for reading its fields (a frame's header, a JOIN, an ERROR's text).</summary>
    public const int Keep = 1024;

    private const ulong SeedLengthCap = 2UL * (40 << 20) + (64 << 10);

    public StreamDissector(SessionFigures figures, bool midStream)
    {
        Figures = figures;
        FromClient = new Direction(this, fromClient: true);
        FromServer = new Direction(this, fromClient: false);
        if (midStream)
        {
            // Joined mid-way: no preface to read; v2's names cover v1's, the version is unknown.
            Figures.Format = SessionFormat.StreamMidway;
            Figures.MidStream = true;
            Verdict = StreamVerdict.SocketCam;
            FromClient.StartAtHeader();
            FromServer.StartAtHeader();
        }
    }

    public SessionFigures Figures { get; }
    public Direction FromClient { get; }
    public Direction FromServer { get; }
    public StreamVerdict Verdict { get; private set; }

    /// <summary>Messages read in whole: a mid-stream guess is trusted once a second header followed the first.</summary>
    public long Messages { get; private set; }

    /// <summary>Whether these bytes, at the start of a segment of a connection not seen from its start, look like a native header.</summary>
    public static bool LooksLikeHeader(ReadOnlySpan<byte> data) =>
        data.Length >= 8 && MessageNames.IsKnownStream(data[0], v1: false) && data[1] == 0 && data[2] == 0 && data[3] == 0
        && BinaryPrimitives.ReadUInt32BigEndian(data[4..]) <= MessageNames.StreamCap(data[0]);

    /// <summary>One direction's parser: a state machine fed bytes in order.</summary>
    internal sealed class Direction(StreamDissector owner, bool fromClient) : IByteStreamConsumer
    {
        private enum State { Detect, Preface, Header, Payload, ImageOffer, ImageData, ImageResult, SeedLength, SeedPayload, Done }

        private readonly byte[] _buffer = new byte[Keep];
        private int _filled;
        private int _need = 16; // Detect: enough for every format's opening
        private State _state = State.Detect;
        private long _remaining; // Payload / ImageData / SeedPayload: bytes still to skip
        private byte _type;
        private long _length;

        public bool IsDone => _state == State.Done;

        internal void StartAtHeader() => Go(State.Header, 8);

        public void Consume(ReadOnlySpan<byte> data)
        {
            while (!data.IsEmpty && _state != State.Done)
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
            if (_state is State.Done || bytes == 0)
            {
                return;
            }

            // Inside a payload past the kept part, or in a file's bytes: nothing read was lost, the count goes on.
            if (_state is State.ImageData || (_state is State.Payload or State.SeedPayload && _filled >= _need && bytes <= _remaining))
            {
                _remaining -= bytes;
                if (_remaining == 0)
                {
                    Complete();
                }

                return;
            }

            owner.Figures.MarkMalformed($"{Side}: lost {bytes} bytes of the stream (not captured); not followed further");
            _state = State.Done;
        }

        private string Side => fromClient ? "from the client" : "from the server";

        private void Go(State state, int need)
        {
            _state = state;
            _need = need;
            _filled = 0;
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
                    owner.Messages++;
                    StreamAccounting.Message(owner.Figures, fromClient, _type, _length, b);
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
                Resume(b);
            }
            else if (magic == Transfer.TransferProtocol.Magic && fromClient && b[5] == (byte)Transfer.TransferMessageType.TcpOffer)
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
                    Go(fromClient ? State.ImageOffer : State.ImageResult, fromClient ? 24 : 16);
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
                owner.Figures.Format = version == 2 ? SessionFormat.V2 : SessionFormat.V1;
                if (version is not (1 or 2))
                {
                    owner.Figures.MarkMalformed($"from the client: preface version {version}");
                }
            }

            Go(State.Header, 8);
        }

        private void Header(ReadOnlySpan<byte> b)
        {
            _type = b[0];
            _length = BinaryPrimitives.ReadUInt32BigEndian(b[4..]);
            bool v1 = owner.Figures.Format == SessionFormat.V1;
            bool optional = !v1 && (_type & 0x80) != 0;
            if (!optional && !MessageNames.IsKnownStream(_type, v1))
            {
                Fail($"unknown message type 0x{_type:X2}");
                return;
            }

            if (_length > MessageNames.StreamCap(_type))
            {
                Fail($"{MessageNames.OfStream(_type)} of {_length} bytes is over its cap of {MessageNames.StreamCap(_type)}");
                return;
            }

            if (_length == 0)
            {
                owner.Messages++;
                StreamAccounting.Message(owner.Figures, fromClient, _type, 0, []);
                Go(State.Header, 8);
                return;
            }

            Go(State.Payload, (int)Math.Min(_length, Keep));
            _remaining = _length;
        }

        private void ImageOffer(ReadOnlySpan<byte> b)
        {
            if (BinaryPrimitives.ReadUInt32BigEndian(b) != Transfer.TransferProtocol.Magic || b[5] != (byte)Transfer.TransferMessageType.TcpOffer)
            {
                Fail("expected TCP_OFFER");
                return;
            }

            owner.Figures.CountMessage(true, "TCP_OFFER");
            long length = (long)BinaryPrimitives.ReadUInt64BigEndian(b[8..]);
            owner.Figures.ImageLength = length;
            owner.Figures.Track("file", true).Count(length, keyframe: false);
            if (length == 0)
            {
                Go(State.ImageResult, 16);
                return;
            }

            _state = State.ImageData;
            _remaining = length;
        }

        private void ImageResult(ReadOnlySpan<byte> b)
        {
            if (BinaryPrimitives.ReadUInt32BigEndian(b) != Transfer.TransferProtocol.Magic || b[5] != (byte)Transfer.TransferMessageType.TcpResult)
            {
                Fail(fromClient ? "bytes after the file" : "expected TCP_RESULT");
                return;
            }

            owner.Figures.CountMessage(fromClient, "TCP_RESULT");
            ushort code = BinaryPrimitives.ReadUInt16BigEndian(b[6..]);
            owner.Figures.EndReason = code == 0 ? "TCP_RESULT ok" : $"TCP_RESULT {StreamAccounting.TransferCodeName(code)}";
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
            _remaining = (long)length;
            Go(State.SeedPayload, (int)Math.Min(length, 16));
            _remaining = (long)length;
        }
    }
}

/// <summary>A whole stream message's effect on the figures: its count, and the fields worth showing.</summary>
internal static class StreamAccounting
{
    public static void Message(SessionFigures f, bool fromClient, byte type, long length, ReadOnlySpan<byte> p)
    {
        f.CountMessage(fromClient, MessageNames.OfStream(type));
        try
        {
            Fields(f, fromClient, (MessageType)type, length, p);
        }
        catch (ArgumentOutOfRangeException)
        {
            f.MarkMalformed($"{(fromClient ? "from the client" : "from the server")}: {MessageNames.OfStream(type)} shorter than its fields");
        }
    }

    private static void Fields(SessionFigures f, bool fromClient, MessageType type, long length, ReadOnlySpan<byte> p)
    {
        switch (type)
        {
            case MessageType.Hello when p.Length >= 2:
                f.Role = p[0] == 1 ? "publisher" : p[0] == 2 ? "viewer" : $"role {p[0]}";
                f.Room = Text(p.Slice(2, p[1]));
                break;
            case MessageType.Join when p.Length >= 11:
            {
                int roomLength = p[10];
                f.Room = Text(p.Slice(11, roomLength));
                int at = 11 + roomLength;
                f.Name = Text(p.Slice(at + 1, p[at]));
                f.Role = (BinaryPrimitives.ReadUInt16BigEndian(p[8..]) & 1) != 0 ? "hidden" : "participant";
                break;
            }

            case MessageType.VideoFrame when p.Length >= 24:
            {
                TrackFigures t = f.Track("video", fromClient);
                t.Codec = SessionFigures.CodecName(p[0]);
                t.Width = BinaryPrimitives.ReadUInt16BigEndian(p[2..]);
                t.Height = BinaryPrimitives.ReadUInt16BigEndian(p[4..]);
                t.Count(length - 24, keyframe: true);
                break;
            }

            case MessageType.Frame when p.Length >= 32:
            {
                uint participant = BinaryPrimitives.ReadUInt32BigEndian(p);
                ushort track = BinaryPrimitives.ReadUInt16BigEndian(p[4..]);
                int ext = BinaryPrimitives.ReadUInt16BigEndian(p[10..]);
                TrackFigures t = f.Track(fromClient ? $"t{track}" : $"p{participant}/t{track}", fromClient);
                t.Kind = p[6] == 2 ? "audio" : p[6] == 1 ? "video" : $"kind-{p[6]}";
                t.Codec = SessionFigures.CodecName(p[7]);
                if (p[6] == 1)
                {
                    t.Width = BinaryPrimitives.ReadUInt16BigEndian(p[12..]);
                    t.Height = BinaryPrimitives.ReadUInt16BigEndian(p[14..]);
                }

                t.Count(length - 32 - ext, keyframe: (p[8] & 1) != 0);
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
                int textLength = BinaryPrimitives.ReadUInt16BigEndian(p[2..]);
                string text = Text(p.Slice(4, Math.Min(textLength, p.Length - 4)));
                f.EndReason = $"{MessageNames.OfStream((byte)type)} {ErrorName(code)}{(text.Length > 0 ? ": " + text : "")} ({(fromClient ? "client" : "server")})";
                break;
            }
        }
    }

    public static string ErrorName(ushort code) =>
        Enum.IsDefined((ErrorCode)code) ? ((ErrorCode)code).ToWireName() : code.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static string TransferCodeName(ushort code) =>
        Enum.IsDefined((Transfer.TransferCode)code) ? ((Transfer.TransferCode)code).ToString() : $"code {code}";

    /// <summary>A peer's text, made safe to print (control characters replaced).</summary>
    public static string Text(ReadOnlySpan<byte> bytes) => PrintableText.Of(Encoding.UTF8.GetString(bytes));
}
