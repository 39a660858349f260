using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;

namespace SocketCam.Transport;

/// <summary>
/// Sends a header and a payload from two arrays in one system call (sendmsg with two iovecs), so a frame's wire header
/// (written once per frame) and its shared payload go out without being copied together. One per socket writer, reused
/// for every send: nothing is allocated per frame (like Kestrel's SocketSender).
/// </summary>
internal sealed class GatherSender : SocketAsyncEventArgs, IValueTaskSource<int>
{
    private readonly List<ArraySegment<byte>> _segments = new(2);
    private ManualResetValueTaskSourceCore<int> _source;

    public GatherSender()
        : base(unsafeSuppressExecutionContextFlow: true)
    {
        _source.RunContinuationsAsynchronously = true;
    }

    /// <summary>Sends all of <paramref name="header"/> then all of <paramref name="payload"/>; one send at a time per instance.</summary>
    public ValueTask<int> SendAsync(Socket socket, ArraySegment<byte> header, ArraySegment<byte> payload)
    {
        _source.Reset();
        _segments.Clear();
        _segments.Add(header);
        if (payload.Count > 0)
        {
            _segments.Add(payload);
        }

        BufferList = _segments;
        if (socket.SendAsync(this))
        {
            return new ValueTask<int>(this, _source.Version);
        }

        // Completed synchronously: no continuation was scheduled.
        BufferList = null;
        return SocketError == SocketError.Success
            ? new ValueTask<int>(BytesTransferred)
            : ValueTask.FromException<int>(new SocketException((int)SocketError));
    }

    /// <summary>Sends every byte of both (what the kernel did not take in one call is sent with plain sends).</summary>
    /// <remarks>Pooled builder: a send that waits for the socket allocates no state machine box either.</remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SendAllAsync(Socket socket, ArraySegment<byte> header, ArraySegment<byte> payload)
    {
        int sent = await SendAsync(socket, header, payload);
        if (sent < header.Count)
        {
            await socket.SendAllAsync(header.AsMemory(sent), CancellationToken.None);
            sent = header.Count;
        }

        int rest = sent - header.Count;
        if (rest < payload.Count)
        {
            await socket.SendAllAsync(payload.AsMemory(rest), CancellationToken.None);
        }
    }

    public int GetResult(short token) => _source.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _source.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _source.OnCompleted(continuation, state, token, flags);

    protected override void OnCompleted(SocketAsyncEventArgs e)
    {
        BufferList = null;
        if (SocketError == SocketError.Success)
        {
            _source.SetResult(BytesTransferred);
        }
        else
        {
            _source.SetException(new SocketException((int)SocketError));
        }
    }
}
