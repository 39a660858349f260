using System.Buffers.Binary;
using System.Text;

namespace SocketCam.Recording;

/// <summary>
/// Just enough Matroska to hand ffmpeg JPEGs with their timestamps through a pipe: an EBML header, a Segment of unknown
/// size (a live stream), one V_MJPEG video track, then one Cluster per frame holding one SimpleBlock. Raw MJPEG carries
/// no timestamps, so this is what lets a .mkv or .mp4 play at the pace the frames were really captured, even when the
/// frame rate varies or frames were skipped. Timestamps are in milliseconds (TimestampScale 1 000 000 ns).
/// </summary>
internal static class MatroskaStream
{
    /// <summary>Bytes <see cref="WriteFrameHeader"/> writes in front of a JPEG.</summary>
    public const int FrameHeaderSize = 4 + 8 + 1 + 1 + 8 + 1 + 8 + 4;

    /// <summary>Upper bound of what <see cref="WriteHeader"/> writes.</summary>
    public const int MaxHeaderSize = 256;

    private const uint EbmlId = 0x1A45DFA3;
    private const uint SegmentId = 0x18538067;
    private const uint InfoId = 0x1549A966;
    private const uint TracksId = 0x1654AE6B;
    private const uint ClusterId = 0x1F43B675;
    private const byte TrackEntryId = 0xAE;
    private const byte VideoId = 0xE0;
    private const byte TimestampId = 0xE7;
    private const byte SimpleBlockId = 0xA3;

    /// <summary>Writes the stream header (EBML header, Segment start, Info, Tracks) for one video track of the given size.</summary>
    public static int WriteHeader(Span<byte> destination, int width, int height)
    {
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
        w.Text(0x86, "V_MJPEG"); // CodecID
        int video = w.BeginMaster(VideoId);
        w.Uint(0xB0, (ulong)width); // PixelWidth
        w.Uint(0xBA, (ulong)height); // PixelHeight
        w.EndMaster(video);
        w.EndMaster(entry);
        w.EndMaster(tracks);
        return w.Position;
    }

    /// <summary>
    /// Writes a Cluster (timestamp <paramref name="timestampMs"/>) holding one key-frame SimpleBlock of track 1, up to
    /// the start of its <paramref name="jpegLength"/> bytes of JPEG, which the caller writes next.
    /// </summary>
    public static int WriteFrameHeader(Span<byte> destination, long timestampMs, int jpegLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(timestampMs);
        const int TimestampElementSize = 1 + 1 + 8;
        const int BlockPrefixSize = 4; // track number (vint), relative timestamp (int16), flags
        long blockSize = BlockPrefixSize + (long)jpegLength;
        long clusterSize = TimestampElementSize + 1 + 8 + blockSize;
        var w = new Writer(destination);
        w.Id(ClusterId);
        w.Size(clusterSize);
        w.Id(TimestampId);
        w.Byte(0x88); // size 8
        w.BigEndian((ulong)timestampMs, 8);
        w.Id(SimpleBlockId);
        w.Size(blockSize);
        w.Byte(0x81); // track 1
        w.BigEndian(0, 2); // timestamp relative to the cluster's
        w.Byte(0x80); // key frame
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
