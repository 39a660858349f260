using System.Buffers.Binary;
using System.Text;

namespace SocketCam.Recording;

/// <summary>
/// Just enough Matroska to hand ffmpeg JPEGs or H.264 (and Opus packets) with their timestamps through a pipe: an EBML
/// header, a Segment of unknown size (a live stream), one V_MJPEG or V_MPEG4/ISO/AVC video track (track 1; H.264 with
/// an avcC CodecPrivate and length-prefixed samples) and optionally one A_OPUS audio track (track 2), then one Cluster
/// per frame or packet holding one SimpleBlock. Raw MJPEG carries no timestamps, so this is
/// what lets a .mkv or .mp4 play at the pace the frames were really captured, even when the frame rate varies or frames
/// were skipped; both tracks' timestamps count from the same origin on the same clock (the hub's), so audio and video
/// stay in sync in the file. Timestamps are in milliseconds (TimestampScale 1 000 000 ns).
/// </summary>
internal static class MatroskaStream
{
    /// <summary>Bytes <see cref="WriteFrameHeader"/> writes in front of a JPEG.</summary>
    public const int FrameHeaderSize = 4 + 8 + 1 + 1 + 8 + 1 + 8 + 4;

    /// <summary>Upper bound of what <see cref="WriteHeader"/> writes, besides an H.264 track's avcC.</summary>
    public const int MaxHeaderSize = 384;

    /// <summary>The video track's number.</summary>
    public const int VideoTrack = 1;

    /// <summary>The audio track's number (when there is one).</summary>
    public const int AudioTrack = 2;

    /// <summary>
    /// Samples the decoder drops at the start (OpusHead's pre-skip): libopus's lookahead at 48 kHz with the VOIP
    /// application, 312 (<see cref="Audio.Opus.OpusEncoder.LookaheadSamples"/>), what every SocketCam publisher sends.
    /// </summary>
    public const int OpusPreSkip = 312;

    /// <summary>Matroska's Opus mapping: decode at least 80 ms before a seek target (SeekPreRoll, ns).</summary>
    public const ulong OpusSeekPreRollNs = 80_000_000;

    private const uint EbmlId = 0x1A45DFA3;
    private const uint SegmentId = 0x18538067;
    private const uint InfoId = 0x1549A966;
    private const uint TracksId = 0x1654AE6B;
    private const uint ClusterId = 0x1F43B675;
    private const byte TrackEntryId = 0xAE;
    private const byte VideoId = 0xE0;
    private const byte AudioId = 0xE1;
    private const byte TimestampId = 0xE7;
    private const byte SimpleBlockId = 0xA3;

    /// <summary>
    /// Writes the stream header (EBML header, Segment start, Info, Tracks) for one video track of the given size and, when
    /// <paramref name="audioChannels"/> is 1 or 2, an Opus audio track (48 kHz) of that many channels. The video is MJPEG,
    /// or H.264 when <paramref name="avcConfiguration"/> (an AVCDecoderConfigurationRecord) is given; the destination
    /// needs <see cref="MaxHeaderSize"/> bytes plus the record's length.
    /// </summary>
    public static int WriteHeader(Span<byte> destination, int width, int height, int audioChannels = 0, ReadOnlySpan<byte> avcConfiguration = default)
    {
        if (audioChannels is < 0 or > 2)
        {
            throw new ArgumentOutOfRangeException(nameof(audioChannels), audioChannels, "Opus tracks here are mono or stereo.");
        }

        var w = new Writer(destination);
        int ebml = w.BeginMaster(EbmlId);
        w.Uint(0x4286, 1); // EBMLVersion
        w.Uint(0x42F7, 1); // EBMLReadVersion
        w.Uint(0x42F2, 4); // EBMLMaxIDLength
        w.Uint(0x42F3, 8); // EBMLMaxSizeLength
        w.Text(0x4282, "matroska"); // DocType
        w.Uint(0x4287, 4); // DocTypeVersion
        w.Uint(0x4285, 2); // DocTypeReadVersion
        w.EndMaster(ebml);

        w.Id(SegmentId);
        w.UnknownSize();

        int info = w.BeginMaster(InfoId);
        w.Uint(0x2AD7B1, 1_000_000); // TimestampScale: 1 ms
        w.Text(0x4D80, "socketcam"); // MuxingApp
        w.Text(0x5741, "socketcam"); // WritingApp
        w.EndMaster(info);

        int tracks = w.BeginMaster(TracksId);
        int entry = w.BeginMaster(TrackEntryId);
        w.Uint(0xD7, 1); // TrackNumber
        w.Uint(0x73C5, 1); // TrackUID
        w.Uint(0x83, 1); // TrackType: video
        w.Uint(0x9C, 0); // FlagLacing: off
        if (avcConfiguration.IsEmpty)
        {
            w.Text(0x86, "V_MJPEG"); // CodecID
        }
        else
        {
            w.Text(0x86, "V_MPEG4/ISO/AVC"); // CodecID
            w.Binary(0x63A2, avcConfiguration); // CodecPrivate: the avcC
        }

        int video = w.BeginMaster(VideoId);
        w.Uint(0xB0, (ulong)width); // PixelWidth
        w.Uint(0xBA, (ulong)height); // PixelHeight
        w.EndMaster(video);
        w.EndMaster(entry);
        if (audioChannels > 0)
        {
            int audioEntry = w.BeginMaster(TrackEntryId);
            w.Uint(0xD7, AudioTrack); // TrackNumber
            w.Uint(0x73C5, AudioTrack); // TrackUID
            w.Uint(0x83, 2); // TrackType: audio
            w.Uint(0x9C, 0); // FlagLacing: off
            w.Text(0x86, "A_OPUS"); // CodecID
            Span<byte> head = stackalloc byte[OpusHeadSize];
            WriteOpusHead(head, audioChannels);
            w.Binary(0x63A2, head); // CodecPrivate: the OpusHead
            // Matroska's Opus mapping: CodecDelay is the pre-skip in ns, SeekPreRoll 80 ms.
            w.Uint(0x56AA, (ulong)OpusPreSkip * 1_000_000_000UL / 48_000);
            w.Uint(0x56BB, OpusSeekPreRollNs);
            int audio = w.BeginMaster(AudioId);
            w.Float(0xB5, 48_000); // SamplingFrequency
            w.Uint(0x9F, (ulong)audioChannels); // Channels
            w.EndMaster(audio);
            w.EndMaster(audioEntry);
        }

        w.EndMaster(tracks);
        return w.Position;
    }

    /// <summary>Bytes of an OpusHead for mapping family 0 (RFC 7845 §5.1).</summary>
    public const int OpusHeadSize = 19;

    /// <summary>
    /// The identification header Opus streams start with (RFC 7845 §5.1): 'OpusHead', version 1, the channel count, the
    /// pre-skip, the input rate (48 kHz), no output gain, channel mapping family 0 (mono or stereo, no table).
    /// </summary>
    public static void WriteOpusHead(Span<byte> destination, int channels)
    {
        "OpusHead"u8.CopyTo(destination);
        destination[8] = 1; // version
        destination[9] = (byte)channels;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[10..], OpusPreSkip);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], 48_000);
        BinaryPrimitives.WriteInt16LittleEndian(destination[16..], 0); // output gain
        destination[18] = 0; // mapping family
    }

    /// <summary>
    /// Writes a Cluster (timestamp <paramref name="timestampMs"/>) holding one key-frame SimpleBlock of track 1, up to
    /// the start of its <paramref name="jpegLength"/> bytes of JPEG, which the caller writes next.
    /// </summary>
    public static int WriteFrameHeader(Span<byte> destination, long timestampMs, int jpegLength) =>
        WriteBlockHeader(destination, VideoTrack, timestampMs, jpegLength);

    /// <summary>
    /// Writes a Cluster (timestamp <paramref name="timestampMs"/>) holding one SimpleBlock of track
    /// <paramref name="track"/> (a key frame unless <paramref name="keyframe"/> is false: JPEGs and Opus packets all are,
    /// H.264 only at IDR access units), up to the start of its <paramref name="payloadLength"/> bytes of payload, which the
    /// caller writes next.
    /// </summary>
    public static int WriteBlockHeader(Span<byte> destination, int track, long timestampMs, int payloadLength, bool keyframe = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(track, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(track, 126);
        ArgumentOutOfRangeException.ThrowIfNegative(timestampMs);
        const int TimestampElementSize = 1 + 1 + 8;
        const int BlockPrefixSize = 4; // track number (vint), relative timestamp (int16), flags
        long blockSize = BlockPrefixSize + (long)payloadLength;
        long clusterSize = TimestampElementSize + 1 + 8 + blockSize;
        var w = new Writer(destination);
        w.Id(ClusterId);
        w.Size(clusterSize);
        w.Id(TimestampId);
        w.Byte(0x88); // size 8
        w.BigEndian((ulong)timestampMs, 8);
        w.Id(SimpleBlockId);
        w.Size(blockSize);
        w.Byte((byte)(0x80 | track)); // track number (a 1-byte vint)
        w.BigEndian(0, 2); // timestamp relative to the cluster's
        w.Byte(keyframe ? (byte)0x80 : (byte)0); // key frame flag
        return w.Position;
    }

    /// <summary>An EBML writer over a span: IDs as they are, sizes as 8-byte vints (or 1 byte where tiny).</summary>
    private ref struct Writer
    {
        private readonly Span<byte> _buffer;

        public Writer(Span<byte> buffer)
        {
            _buffer = buffer;
            Position = 0;
        }

        public int Position { get; private set; }

        public void Byte(byte value) => _buffer[Position++] = value;

        public void Id(uint id)
        {
            int length = id > 0xFFFFFF ? 4 : id > 0xFFFF ? 3 : id > 0xFF ? 2 : 1;
            BigEndian(id, length);
        }

        /// <summary>An 8-byte size vint (marker 0x01 then 7 bytes), valid for any size below 2^56 - 1.</summary>
        public void Size(long size)
        {
            if (size is < 0 or >= (1L << 56) - 1)
            {
                throw new ArgumentOutOfRangeException(nameof(size));
            }

            BinaryPrimitives.WriteUInt64BigEndian(_buffer[Position..], (ulong)size | (1UL << 56));
            Position += 8;
        }

        public void UnknownSize()
        {
            BinaryPrimitives.WriteUInt64BigEndian(_buffer[Position..], 0x01FF_FFFF_FFFF_FFFF);
            Position += 8;
        }

        public int BeginMaster(uint id)
        {
            Id(id);
            int sizeAt = Position;
            Position += 8;
            return sizeAt;
        }

        public readonly void EndMaster(int sizeAt)
        {
            long size = Position - sizeAt - 8;
            BinaryPrimitives.WriteUInt64BigEndian(_buffer[sizeAt..], (ulong)size | (1UL << 56));
        }

        public void Uint(uint id, ulong value)
        {
            int length = 1;
            while (length < 8 && value >> (8 * length) != 0)
            {
                length++;
            }

            Id(id);
            Byte((byte)(0x80 | length));
            BigEndian(value, length);
        }

        public void Binary(uint id, scoped ReadOnlySpan<byte> value)
        {
            Id(id);
            if (value.Length < 127)
            {
                Byte((byte)(0x80 | value.Length));
            }
            else
            {
                Size(value.Length); // an avcC with long parameter sets
            }

            value.CopyTo(_buffer[Position..]);
            Position += value.Length;
        }

        /// <summary>An 8-byte (double) float element.</summary>
        public void Float(uint id, double value)
        {
            Id(id);
            Byte(0x88);
            BinaryPrimitives.WriteDoubleBigEndian(_buffer[Position..], value);
            Position += 8;
        }

        public void Text(uint id, string value)
        {
            Id(id);
            int length = Encoding.ASCII.GetByteCount(value);
            Byte((byte)(0x80 | length)); // short strings only (< 127 bytes)
            Position += Encoding.ASCII.GetBytes(value, _buffer[Position..]);
        }

        public void BigEndian(ulong value, int length)
        {
            for (int i = length - 1; i >= 0; i--)
            {
                _buffer[Position++] = (byte)(value >> (8 * i));
            }
        }
    }
}
