using SocketCam.Diagnostics;
using SocketCam.Protocol;

namespace SocketCam.Hub;

/// <summary>
/// How a hub-side UDP session ends, shared by viewers and publishers: the last time anything was heard (idle timeout),
/// the first reason given (the BYE to send), and whether the peer already said BYE (then nothing is answered).
/// </summary>
internal sealed class UdpSessionEnd
{
    private readonly CancellationTokenSource _end = new();
    private readonly Lock _lock = new();
    private CloseMessage? _ending;
    private volatile bool _peerLeft;
    private long _lastHeardMicros = Clock.NowMicros();

    /// <summary>Cancelled once the session is to end.</summary>
    public CancellationToken Token => _end.Token;

    public bool IsEnding => _end.IsCancellationRequested;

    public void Heard() => Interlocked.Exchange(ref _lastHeardMicros, Clock.NowMicros());

    public bool IsIdle(long nowMicros, TimeSpan limit) => nowMicros - Interlocked.Read(ref _lastHeardMicros) > limit.TotalMicroseconds;

    /// <summary>Ends the session with BYE (code, reason); the first reason given wins.</summary>
    public void End(ErrorCode code, string reason)
    {
        lock (_lock)
        {
            _ending ??= new CloseMessage(code, reason);
        }

        _end.Cancel();
    }

    /// <summary>The peer said BYE: the session ends and answers nothing.</summary>
    public void PeerLeft(string who, string text)
    {
        _peerLeft = true;
        End(ErrorCode.Normal, text.Length > 0 ? $"{who} left: {text}" : $"{who} left");
    }

    /// <summary>Why the session ended, for the log.</summary>
    public string Reason(CancellationToken serverToken) =>
        serverToken.IsCancellationRequested ? "server shutting down" : _ending?.Text ?? "ended";

    /// <summary>The BYE to send (null when the peer left on its own).</summary>
    public CloseMessage? Bye(CancellationToken serverToken, string reason) =>
        _peerLeft ? null
        : serverToken.IsCancellationRequested ? new CloseMessage(ErrorCode.ServerShutdown, "The server is shutting down.")
        : _ending ?? new CloseMessage(ErrorCode.Normal, reason);
}
