using System.Security.Cryptography;
using SocketCam.Protocol;

namespace SocketCam.Client;

/// <summary>
/// One client's side of a room's chat across its sessions (docs/PROTOCOL.md §4.15): the last chat_seq shown and the store
/// it belongs to (JOIN's resume fields), live messages held until the session's history is in, every message shown once
/// in order, and the messages sent that the hub has not acknowledged yet (resent with the same id after a reconnect).
/// </summary>
internal sealed class ChatChannel
{
    /// <summary>Live messages held while the history has not come: a hub that never sends it cannot make this grow without end.</summary>
    private const int MaxHeld = 100_000;
    private readonly Lock _lock = new();
    private readonly List<ChatMessage> _held = [];
    private readonly List<(ulong Id, string Text)> _unacknowledged = [];
    private ulong _last;
    private ulong _store;
    private bool _historyDone;

    /// <summary>Each message, once, in chat_seq order (history first, then live), on the receive loop's thread.</summary>
    public Action<ChatMessage>? Shown { get; set; }

    /// <summary>The history of the current session: whether it was cut (a resume after more than 1000 missed messages).</summary>
    public Action<bool>? HistoryReceived { get; set; }

    /// <summary>The highest chat_seq shown (JOIN's chat_after).</summary>
    public ulong Last
    {
        get
        {
            lock (_lock)
            {
                return _last;
            }
        }
    }

    /// <summary>The store <see cref="Last"/> belongs to (JOIN's chat_store); 0 before the first history.</summary>
    public ulong Store
    {
        get
        {
            lock (_lock)
            {
                return _store;
            }
        }
    }

    /// <summary>Messages sent whose RESULT has not come (yet).</summary>
    public IReadOnlyList<(ulong Id, string Text)> Unacknowledged
    {
        get
        {
            lock (_lock)
            {
                return [.. _unacknowledged];
            }
        }
    }

    /// <summary>A new session starts: hold live messages until its history has arrived.</summary>
    public void BeginSession()
    {
        lock (_lock)
        {
            _historyDone = false;
            _held.Clear();
        }
    }

    /// <summary>
    /// A text as the hub takes it (§4.15): control characters other than TAB, LF and CR removed (a pasted escape
    /// sequence would otherwise end the session). What remains is still only text to every receiver.
    /// </summary>
    public static string Clean(string text)
    {
        if (!text.Any(c => char.IsControl(c) && c is not ('\t' or '\n' or '\r')))
        {
            return text;
        }

        return string.Concat(text.Where(c => !char.IsControl(c) || c is '\t' or '\n' or '\r'));
    }

    /// <summary>A new message to send: its client id, kept until <see cref="Acknowledge"/>.</summary>
    public ulong Add(string text)
    {
        ulong id;
        do
        {
            id = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));
        }
        while (id == 0);
        lock (_lock)
        {
            _unacknowledged.Add((id, text));
        }

        return id;
    }

    /// <summary>The hub answered (stored or refused): nothing to resend.</summary>
    public void Acknowledge(ulong id)
    {
        lock (_lock)
        {
            _unacknowledged.RemoveAll(m => m.Id == id);
        }
    }

    internal void OnHistory(ChatHistoryChunk chunk)
    {
        List<ChatMessage> show = [];
        lock (_lock)
        {
            if (chunk.Store != _store || (chunk.Reset && chunk.Chunk == 0))
            {
                // Another store (first session, or the hub's file was replaced), or this one restored from an older
                // backup (reset): its sequence numbers start afresh.
                _store = chunk.Store;
                _last = 0;
            }

            foreach (ChatMessage m in chunk.Messages)
            {
                TakeLocked(m, show);
            }

            if (chunk.Last)
            {
                _historyDone = true;
                foreach (ChatMessage m in _held)
                {
                    TakeLocked(m, show);
                }

                _held.Clear();
            }
        }

        ShowAll(show);
        if (chunk.Last)
        {
            HistoryReceived?.Invoke(chunk.Truncated);
        }
    }

    internal void OnLive(ChatMessage message)
    {
        List<ChatMessage> show = [];
        lock (_lock)
        {
            if (!_historyDone)
            {
                if (_held.Count >= MaxHeld)
                {
                    throw new ProtocolException(ErrorCode.Malformed, $"No CHAT_HISTORY after {MaxHeld} chat messages.");
                }

                _held.Add(message);
                return;
            }

            TakeLocked(message, show);
        }

        ShowAll(show);
    }

    private void TakeLocked(ChatMessage m, List<ChatMessage> show)
    {
        if (m.Seq > _last)
        {
            _last = m.Seq;
            show.Add(m);
        }
    }

    private void ShowAll(List<ChatMessage> show)
    {
        foreach (ChatMessage m in show)
        {
            Shown?.Invoke(m);
        }
    }
}
