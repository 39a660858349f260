namespace SocketCam.Udp;

/// <summary>Datagrams the hub's UDP listener dropped without answering, by reason (shown in /api/stats, asserted by tests).</summary>
internal sealed class UdpDropCounters
{
    private long _malformed;
    private long _oversized;
    private long _unknownAddress;
    private long _wrongSession;
    private long _notAllowed;
    private long _pendingFull;
    private long _unsealed;

    /// <summary>Not one of the documented layouts (bad magic, version, size or field).</summary>
    public long Malformed => Interlocked.Read(ref _malformed);

    /// <summary>Larger than 1200 bytes.</summary>
    public long Oversized => Interlocked.Read(ref _oversized);

    /// <summary>Not a HELLO, from an address with no session.</summary>
    public long UnknownAddress => Interlocked.Read(ref _unknownAddress);

    /// <summary>From a session's address but with another session id.</summary>
    public long WrongSession => Interlocked.Read(ref _wrongSession);

    /// <summary>A type the session's role never sends (e.g. FRAGMENT from a viewer).</summary>
    public long NotAllowed => Interlocked.Read(ref _notAllowed);

    /// <summary>A HELLO while the table of unanswered handshakes was full.</summary>
    public long PendingFull => Interlocked.Read(ref _pendingFull);

    /// <summary>
    /// For an encrypted session (or a sealed HELLO): not sealed, failed authentication, replayed or behind the replay
    /// window; dropped before any field of it was read.
    /// </summary>
    public long Unsealed => Interlocked.Read(ref _unsealed);

    public void OnUnsealed() => Interlocked.Increment(ref _unsealed);

    public void OnMalformed() => Interlocked.Increment(ref _malformed);

    public void OnOversized() => Interlocked.Increment(ref _oversized);

    public void OnUnknownAddress() => Interlocked.Increment(ref _unknownAddress);

    public void OnWrongSession() => Interlocked.Increment(ref _wrongSession);

    public void OnNotAllowed() => Interlocked.Increment(ref _notAllowed);

    public void OnPendingFull() => Interlocked.Increment(ref _pendingFull);
}
