namespace SocketCam.Media;

/// <summary>
/// One encoded frame of any track (video picture, audio packet): what it is (<see cref="Header"/>) and its payload in a
/// pooled array, shared by every recipient. Reference-counted: each holder calls <see cref="Release"/> once; the last
/// one returns the array. Media-neutral: no wire format lives in the payload. Each wire format's header is written once
/// per frame into <see cref="WireHeaders"/> when the frame is published (Hub/FrameFraming), and every sender of that
/// format sends that header and the same payload (a gather write), so fan-out never copies and never frames twice.
/// </summary>
public sealed class MediaFrame
{
    /// <summary>Room for the wire headers: the stream v1 VIDEO_FRAME (8 + 24) and v2 FRAME (8 + 32) headers.</summary>
    internal const int WireHeaderBytes = 80;

    private const int MaxPooledObjects = 64;
    private static readonly Stack<MediaFrame> Pool = new();

    private readonly byte[] _wireHeaders = new byte[WireHeaderBytes];
    private byte[] _buffer = [];
    private int _length;
    private int _refs;

    private MediaFrame()
    {
    }

    /// <summary>What the frame is: kind, codec, size, sequence, capture time.</summary>
    public FrameInfo Header { get; private set; }

    /// <summary>The payload (JPEG, raw picture, audio packet).</summary>
    public ReadOnlySpan<byte> Data => _buffer.AsSpan(0, _length);

    /// <summary>The payload as memory, for sends.</summary>
    public ReadOnlyMemory<byte> Payload => _buffer.AsMemory(0, _length);

    /// <summary>The payload as an array segment (gather sends take segments).</summary>
    internal ArraySegment<byte> PayloadSegment => new(_buffer, 0, _length);

    /// <summary>The payload's length in bytes.</summary>
    public int DataLength => _length;

    /// <summary>Where an encoder or a receiver writes the payload.</summary>
    public Span<byte> WritableData => _buffer;

    /// <summary>The publisher's participant id and track id, set when the frame is published into a room (0 before).</summary>
    internal uint ParticipantId { get; private set; }

    internal ushort TrackId { get; private set; }

    /// <summary>
    /// Per-frame storage for the wire formats' headers (layout owned by Hub/FrameFraming): written once before fan-out,
    /// only read afterwards.
    /// </summary>
    internal byte[] WireHeaders => _wireHeaders;

    /// <summary>Rents a frame with room for <paramref name="maxDataLength"/> bytes of payload; the caller holds one reference.</summary>
    public static MediaFrame Rent(int maxDataLength)
    {
        MediaFrame? frame = null;
        lock (Pool)
        {
            Pool.TryPop(out frame);
        }

        frame ??= new MediaFrame();
        frame._buffer = FrameBufferPool.Shared.Rent(Math.Max(1, maxDataLength));
        frame._length = 0;
        frame._refs = 1;
        frame.ParticipantId = 0;
        frame.TrackId = 0;
        return frame;
    }

    /// <summary>Seals the frame after the payload was written to <see cref="WritableData"/>.</summary>
    public void Complete(in FrameInfo header, int dataLength)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(dataLength, _buffer.Length);
        Header = header;
        _length = dataLength;
    }

    /// <summary>Changes the capture time (a publisher's frames are moved onto the hub's clock before they are published).</summary>
    internal void SetCaptureMicros(long captureMicros) => Header = Header with { CaptureMicros = captureMicros };

    /// <summary>Names the track the frame belongs to (the room does it when the frame is published).</summary>
    internal void SetTrack(uint participantId, ushort trackId)
    {
        ParticipantId = participantId;
        TrackId = trackId;
    }

    /// <summary>Takes one more reference (each is given back with <see cref="Release"/>).</summary>
    public void AddRef()
    {
        if (Interlocked.Increment(ref _refs) <= 1)
        {
            throw new InvalidOperationException("AddRef on a released frame.");
        }
    }

    /// <summary>Gives back one reference; the last one returns the payload to the pool.</summary>
    public void Release()
    {
        int refs = Interlocked.Decrement(ref _refs);
        if (refs > 0)
        {
            return;
        }

        if (refs < 0)
        {
            throw new InvalidOperationException("Frame released more often than referenced.");
        }

        FrameBufferPool.Shared.Return(_buffer);
        _buffer = [];
        _length = 0;
        lock (Pool)
        {
            if (Pool.Count < MaxPooledObjects)
            {
                Pool.Push(this);
            }
        }
    }
}
