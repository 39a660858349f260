using System.Buffers;
using BenchmarkDotNet.Attributes;
using SocketCam.Media;
using SocketCam.Codecs;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Protocol;

namespace SocketCam.Benchmarks;

/// <summary>The parser on a 100 KB frame (one segment and 4 KB segments) and the fan-out to many viewers.</summary>
[MemoryDiagnoser]
public class ProtocolBenchmarks
{
    private const int DataLength = 100_000;
    private ReadOnlySequence<byte> _single;
    private ReadOnlySequence<byte> _segmented;
    private Room _room = null!;
    private MediaFrame _frame = null!;

    [Params(1, 300)]
    public int Viewers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        byte[] message = new byte[ProtocolConstants.FrameMessageOverhead + DataLength];
        message[ProtocolConstants.FrameMessageOverhead] = 0xFF;
        message[ProtocolConstants.FrameMessageOverhead + 1] = 0xD8;
        MessageWriter.WriteVideoFrameHeaders(message, new VideoFrameHeader(CodecId.Jpeg, 1280, 720, 1, 2), DataLength);
        _single = new ReadOnlySequence<byte>(message);
        _segmented = Segments.Split(message, 4096);

        _room = new Room("bench");
        for (int i = 0; i < Viewers; i++)
        {
            _room.AddViewer(new NullViewer());
        }

        _frame = MediaFrame.Rent(DataLength);
        _frame.Complete(new VideoFrameHeader(CodecId.Jpeg, 1280, 720, 1, 2), DataLength);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _frame.Release();
        _room.Dispose();
    }

    [Benchmark]
    public long ParseFrameSingleSegment() => Parse(_single);

    [Benchmark]
    public long ParseFrameSegmented() => Parse(_segmented);

    /// <summary>Offer one frame to every viewer, then let each "send" it (take and release): the hub's per-frame work.</summary>
    [Benchmark]
    public long FanOut()
    {
        _room.Publish(_frame);
        long taken = 0;
        foreach (IRoomViewer viewer in _room.Viewers)
        {
            MediaFrame? f = viewer.Slot.Take();
            if (f is not null)
            {
                taken++;
                f.Release();
            }
        }

        return taken;
    }

    private static long Parse(ReadOnlySequence<byte> buffer)
    {
        MessageParser.TryReadMessage(ref buffer, 16 << 20, out _, out ReadOnlySequence<byte> payload);
        VideoFrameHeader header = MessageParser.ParseVideoFrame(payload, out ReadOnlySequence<byte> data);
        return header.Sequence + data.Length;
    }

    private sealed class NullViewer : IRoomViewer
    {
        public VideoSlot Slot { get; } = new(new AsyncSignal());

        public void OnSignal(SignalMessage message)
        {
        }
    }

    private sealed class Segments : ReadOnlySequenceSegment<byte>
    {
        private Segments(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public static ReadOnlySequence<byte> Split(byte[] data, int size)
        {
            var first = new Segments(data.AsMemory(0, Math.Min(size, data.Length)), 0);
            Segments last = first;
            for (int offset = size; offset < data.Length; offset += size)
            {
                var next = new Segments(data.AsMemory(offset, Math.Min(size, data.Length - offset)), offset);
                last.Next = next;
                last = next;
            }

            return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        }
    }
}
