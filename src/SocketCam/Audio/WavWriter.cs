using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace SocketCam.Audio;

/// <summary>
/// A 16-bit PCM WAV file written as it plays (`view --audio-out FILE.wav`). The RIFF sizes are brought up to date every
/// second and on close, so a file cut short by a crash still opens with all but its last second.
/// </summary>
internal sealed class WavWriter : IDisposable
{
    private const int HeaderBytes = 44;

    private readonly FileStream _file;
    private readonly int _sampleRate;
    private readonly int _channels;
    private long _dataBytes;
    private long _sinceHeader;

    public WavWriter(string path, int sampleRate, int channels)
    {
        _sampleRate = sampleRate;
        _channels = channels;
        _file = new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.Read);
        WriteHeader();
    }

    /// <summary>Samples per channel written so far.</summary>
    public long Samples => _dataBytes / (2 * _channels);

    public void Write(ReadOnlySpan<short> pcm)
    {
        _file.Write(MemoryMarshal.AsBytes(pcm));
        _dataBytes += pcm.Length * 2L;
        _sinceHeader += pcm.Length;
        if (_sinceHeader >= _sampleRate * _channels)
        {
            _sinceHeader = 0;
            WriteHeader();
        }
    }

    public void Dispose()
    {
        WriteHeader();
        _file.Dispose();
    }

    private void WriteHeader()
    {
        Span<byte> h = stackalloc byte[HeaderBytes];
        "RIFF"u8.CopyTo(h);
        BinaryPrimitives.WriteUInt32LittleEndian(h[4..], (uint)Math.Min(uint.MaxValue, 36 + _dataBytes));
        "WAVE"u8.CopyTo(h[8..]);
        "fmt "u8.CopyTo(h[12..]);
        BinaryPrimitives.WriteUInt32LittleEndian(h[16..], 16);
        BinaryPrimitives.WriteUInt16LittleEndian(h[20..], 1); // PCM
        BinaryPrimitives.WriteUInt16LittleEndian(h[22..], (ushort)_channels);
        BinaryPrimitives.WriteUInt32LittleEndian(h[24..], (uint)_sampleRate);
        BinaryPrimitives.WriteUInt32LittleEndian(h[28..], (uint)(_sampleRate * _channels * 2));
        BinaryPrimitives.WriteUInt16LittleEndian(h[32..], (ushort)(_channels * 2));
        BinaryPrimitives.WriteUInt16LittleEndian(h[34..], 16);
        "data"u8.CopyTo(h[36..]);
        BinaryPrimitives.WriteUInt32LittleEndian(h[40..], (uint)Math.Min(uint.MaxValue - 36, _dataBytes));
        long end = _file.Position;
        _file.Position = 0;
        _file.Write(h);
        _file.Position = Math.Max(end, HeaderBytes);
        _file.Flush();
    }
}
