using System.Buffers;

namespace SocketCam.Tests.Support;

/// <summary>Builds multi-segment <see cref="ReadOnlySequence{T}"/>s, like a PipeReader hands out after several reads.</summary>
internal static class SegmentedSequence
{
    /// <summary>One segment per chunk (empty chunks make empty segments), each in its own array.</summary>
    public static ReadOnlySequence<byte> Create(params byte[][] chunks)
    {
        if (chunks.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        var first = new Segment(chunks[0].ToArray(), 0);
        Segment last = first;
        for (int i = 1; i < chunks.Length; i++)
        {
            last = last.Append(chunks[i].ToArray());
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>Splits <paramref name="data"/> at the given offsets (ascending, 0..Length).</summary>
    public static ReadOnlySequence<byte> Split(ReadOnlySpan<byte> data, params int[] cuts)
    {
        var chunks = new List<byte[]>();
        int start = 0;
        foreach (int cut in cuts)
        {
            chunks.Add(data[start..cut].ToArray());
            start = cut;
        }

        chunks.Add(data[start..].ToArray());
        return Create([.. chunks]);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
