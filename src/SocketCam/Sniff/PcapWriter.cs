using System.Buffers.Binary;
using System.Collections.Concurrent;

namespace SocketCam.Sniff;

/// <summary>
/// A capture file in the classic libpcap format (what tcpdump -w writes; Wireshark and tshark open it): the 24-byte
/// global header (magic a1b2c3d4, version 2.4, microsecond timestamps, link type Ethernet), then per frame a 16-byte
/// record header and the bytes. Frames of links without an Ethernet header (tun-like) get a made-up one, so one link
/// type serves every interface.
/// </summary>
/// <remarks>
/// The capture thread only copies records into 4 MiB chunks; a thread of its own writes full chunks to the file, so
/// a slow disk or page cache costs the capture thread nothing until <see cref="QueuedChunks"/> chunks (64 MiB) wait.
/// Then it waits too: a capture file with holes would mislead more than frames the kernel counts as dropped.
/// A write error (a full disk) is thrown from the next call.
/// </remarks>
internal sealed class PcapWriter : IDisposable
{
    /// <summary>Frames longer than this are cut (loopback's largest, with TSO, is 64 KiB plus headers).</summary>
    public const int SnapLength = 262144;

    private const int ChunkBytes = 4 << 20;
    private const int QueuedChunks = 16;
    private const int RecordHeaderBytes = 16;
    private const uint LinkTypeEthernet = 1;
    private static readonly byte[] MadeUpEthernetV4 = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00];
    private static readonly byte[] MadeUpEthernetV6 = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x86, 0xDD];

    private readonly FileStream _file;
    private readonly BlockingCollection<(byte[] Chunk, int Length)> _full = new(QueuedChunks);
    private readonly ConcurrentBag<byte[]> _free = [];
    private readonly Thread _writer;
    private byte[] _chunk = new byte[ChunkBytes];
    private int _used;
    private Exception? _failure;
    private bool _told;
    private bool _disposed;

    public PcapWriter(string path)
    {
        _file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 0);
        Span<byte> header = stackalloc byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0xA1B2C3D4);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], SnapLength);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], LinkTypeEthernet);
        try
        {
            _file.Write(header);
        }
        catch (IOException ex)
        {
            _file.Dispose();
            throw new PcapWriteException(ex);
        }

        Bytes = header.Length;
        _writer = new Thread(WriteChunks) { IsBackground = true, Name = "pcap writer" };
        _writer.Start();
    }

    public long Frames { get; private set; }

    /// <summary>The file could not be written (a full disk): the next call throws the reason.</summary>
    public bool HasFailed => Volatile.Read(ref _failure) is not null;

    /// <summary>The file's length once everything written so far has reached it.</summary>
    public long Bytes { get; private set; }

    /// <param name="ethernet">false: <paramref name="frame"/> starts with an IP header.</param>
    public void Write(long timestampMicros, ReadOnlySpan<byte> frame, int originalLength, bool ethernet)
    {
        ThrowIfFailed();
        byte[]? link = ethernet ? null : frame.Length > 0 && frame[0] >> 4 == 6 ? MadeUpEthernetV6 : MadeUpEthernetV4;
        int extra = link?.Length ?? 0;
        int captured = Math.Min(frame.Length, SnapLength - extra);
        int length = RecordHeaderBytes + extra + captured;
        if (_used + length > ChunkBytes)
        {
            HandOff();
        }

        Span<byte> record = _chunk.AsSpan(_used, length);
        BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)(timestampMicros / 1_000_000));
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], (uint)(timestampMicros % 1_000_000));
        BinaryPrimitives.WriteUInt32LittleEndian(record[8..], (uint)(captured + extra));
        BinaryPrimitives.WriteUInt32LittleEndian(record[12..], (uint)(Math.Max(originalLength, frame.Length) + extra));
        link?.CopyTo(record[RecordHeaderBytes..]);
        frame[..captured].CopyTo(record[(RecordHeaderBytes + extra)..]);
        _used += length;
        Bytes += length;
        Frames++;
    }

    /// <summary>
    /// Hands what is buffered to the writer, so the capture so far reaches the file (even if the process is then killed).
    /// A write error is left to the capture thread's next <see cref="Write"/> (or <see cref="Dispose"/>) to throw.
    /// </summary>
    public void Flush()
    {
        if (_used > 0 && Volatile.Read(ref _failure) is null)
        {
            HandOff();
        }
    }

    /// <summary>Writes what is left and closes the file; a write error is thrown here unless it was thrown before.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            if (_used > 0 && Volatile.Read(ref _failure) is null)
            {
                _full.Add((_chunk, _used));
            }
        }
        finally
        {
            _full.CompleteAdding();
            _writer.Join();
            _file.Dispose();
            _full.Dispose();
        }

        ThrowIfFailed(untold: true);
    }

    private void HandOff()
    {
        _full.Add((_chunk, _used)); // waits while QueuedChunks chunks are still to be written
        _chunk = _free.TryTake(out byte[]? free) ? free : new byte[ChunkBytes];
        _used = 0;
    }

    private void WriteChunks()
    {
        foreach ((byte[] chunk, int length) in _full.GetConsumingEnumerable())
        {
            if (Volatile.Read(ref _failure) is null)
            {
                try
                {
                    _file.Write(chunk, 0, length);
                }
                catch (Exception ex)
                {
                    Volatile.Write(ref _failure, ex); // told to the capture thread at its next call; the rest is only drained
                }
            }

            _free.Add(chunk);
        }
    }

    /// <param name="untold">only if no call threw it before: a Dispose on the way out of that error must not throw over it</param>
    private void ThrowIfFailed(bool untold = false)
    {
        if (Volatile.Read(ref _failure) is { } failure && !(untold && _told))
        {
            _told = true;
            throw new PcapWriteException(failure);
        }
    }
}

/// <summary>The capture file could not be written (a full disk, a lost mount): the capture ends, with this one line.</summary>
internal sealed class PcapWriteException(Exception inner) : IOException($"cannot write the capture file: {inner.Message}", inner);
