using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using SocketCam.Diagnostics;
using SocketCam.Protocol;

namespace SocketCam.Chat;

/// <summary>
/// The rooms' chat logs in one SQLite file (docs/CHAT.md): WAL, <c>synchronous=FULL</c>, so a message is on disk before
/// anyone is told it exists. One writer task owns the write connection and commits whatever is waiting in one
/// transaction (group commit: one fsync for many senders); each room's <c>chat_seq</c> is assigned inside that
/// transaction, so two hubs sharing a file never hand out the same number. After the commit, <see cref="Stored"/> hears
/// each new message in sequence order (the hub announces it to the room), and only then does the sender's append complete.
/// Reads use their own connections (WAL readers never wait for the writer).
/// </summary>
public sealed class ChatStore : IAsyncDisposable
{
    private const int MaxBatch = 256;
    private readonly SqliteConnection _writer;
    private readonly string _readConnectionString;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writeLoop;
    private readonly ILogger _logger;
    private readonly SqliteCommand _lastSeq;
    private readonly SqliteCommand _findClientId;
    private readonly SqliteCommand _insert;
    private long _messagesStored;
    private long _commits;

    private ChatStore(string path, SqliteConnection writer, string readConnectionString, ulong storeId, ILogger logger)
    {
        FilePath = path;
        _writer = writer;
        _readConnectionString = readConnectionString;
        StoreId = storeId;
        _logger = logger;
        _lastSeq = Prepare(LastSequenceSql, "$room");
        _findClientId = Prepare("SELECT seq, sent_at_us, participant_id, name, text FROM messages WHERE room = $room AND client_msg_id = $client", "$room", "$client");
        _insert = Prepare(
            "INSERT INTO messages (room, seq, sent_at_us, participant_id, client_msg_id, name, text) VALUES ($room, $seq, $sent, $participant, $client, $name, $text)",
            "$room", "$seq", "$sent", "$participant", "$client", "$name", "$text");
        // Its own thread: every commit blocks in fsync, which must not hold one of the few thread-pool threads the hub's
        // sockets run on (2 on a 2-core machine).
        _writeLoop = Task.Factory.StartNew(WriteLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>The chat.db file.</summary>
    public string FilePath { get; }

    /// <summary>The store's random id (§4.15 <c>chat_store</c>), made with the file: clients resume only in the store they saw.</summary>
    public ulong StoreId { get; }

    /// <summary>Messages stored since start (not counting resends).</summary>
    public long MessagesStored => Interlocked.Read(ref _messagesStored);

    /// <summary>Transactions committed since start: <see cref="MessagesStored"/> / this = messages per fsync.</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>Called on the writer, in chat_seq order per room, for each message once it is durable (the hub announces it).</summary>
    internal Action<string, ChatMessage>? Stored { get; set; }

    /// <summary>Opens (creating if needed) <c>DIR/chat.db</c>; a problem is a <see cref="ChatStoreException"/> with one line that names the file and the flag.</summary>
    public static ChatStore Open(ChatOptions options, ILoggerFactory? loggerFactory = null)
    {
        string path = Path.GetFullPath(Path.Combine(options.Directory, "chat.db"));
        SqliteConnection? writer = null;
        try
        {
            System.IO.Directory.CreateDirectory(options.Directory);
            var builder = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false, DefaultTimeout = 5 };
            writer = new SqliteConnection(builder.ToString());
            writer.Open();
            Execute(writer, "PRAGMA journal_mode=WAL");
            Execute(writer, "PRAGMA synchronous=FULL");
            Execute(writer, "PRAGMA busy_timeout=5000");
            Execute(writer, """
                CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS messages (
                    room TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    sent_at_us INTEGER NOT NULL,
                    participant_id INTEGER NOT NULL,
                    client_msg_id INTEGER NOT NULL,
                    name TEXT NOT NULL,
                    text TEXT NOT NULL,
                    PRIMARY KEY (room, seq)) WITHOUT ROWID;
                CREATE UNIQUE INDEX IF NOT EXISTS messages_client ON messages (room, client_msg_id);
                """);
            ulong storeId = StoreIdOf(writer);
            var read = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = true, DefaultTimeout = 5 };
            return new ChatStore(path, writer, read.ToString(), storeId, (loggerFactory ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance).CreateLogger("SocketCam.Chat"));
        }
        catch (Exception ex) when (ex is SqliteException or IOException or UnauthorizedAccessException)
        {
            writer?.Dispose();
            throw new ChatStoreException($"cannot open the chat store {path}: {FirstLine(ex.Message)} (choose another directory with --data DIR)", ex);
        }
    }

    /// <summary>
    /// Stores a message and returns once it is durable and announced (or found: a resend of the same client id and text
    /// returns the first copy, <see cref="ChatAppendResult.Duplicate"/>). <see cref="ChatIdReusedException"/> when the id
    /// came with another text; <see cref="ChatStoreException"/> when the store failed.
    /// </summary>
    internal Task<ChatAppendResult> AppendAsync(string room, uint participantId, string name, ulong clientId, string text, CancellationToken cancellationToken)
    {
        var pending = new Pending(room, participantId, name, clientId, text);
        if (!_queue.Writer.TryWrite(pending))
        {
            throw new ChatStoreException("the chat store is closed");
        }

        return pending.Done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Messages with chat_seq after <paramref name="after"/>, oldest first, at most <paramref name="limit"/> (the API's paging).</summary>
    public IReadOnlyList<ChatMessage> ReadAfter(string room, ulong after, int limit) =>
        Read("SELECT seq, sent_at_us, participant_id, client_msg_id, name, text FROM messages WHERE room = $room AND seq > $after ORDER BY seq LIMIT $limit", room, after, limit, reverse: false);

    /// <summary>The newest <paramref name="limit"/> messages after <paramref name="after"/>, oldest first; Truncated when older ones after it were left out.</summary>
    internal (IReadOnlyList<ChatMessage> Messages, bool Truncated) ReadLatest(string room, ulong after, int limit)
    {
        List<ChatMessage> newest = Read("SELECT seq, sent_at_us, participant_id, client_msg_id, name, text FROM messages WHERE room = $room AND seq > $after ORDER BY seq DESC LIMIT $limit", room, after, limit + 1, reverse: true);
        bool truncated = newest.Count > limit;
        if (truncated)
        {
            newest.RemoveAt(0);
        }

        return (newest, truncated);
    }

    /// <summary>The last chat_seq of a room (0 for none).</summary>
    public ulong LastSequence(string room) => Query(LastSequenceSql, room, static _ => { }, static c => (ulong)(long)c.ExecuteScalar()!);

    private const string LastSequenceSql = "SELECT COALESCE(MAX(seq), 0) FROM messages WHERE room = $room";

    /// <summary>Lets the writer finish what was queued (each sender gets its answer), then closes the file.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_queue.Writer.TryComplete())
        {
            return;
        }

        await _writeLoop.ConfigureAwait(false);
        _lastSeq.Dispose();
        _findClientId.Dispose();
        _insert.Dispose();
        _writer.Dispose();
        SqliteConnection.ClearAllPools();
    }

    private List<ChatMessage> Read(string sql, string room, ulong after, int limit, bool reverse)
    {
        List<ChatMessage> messages = Query(sql, room,
            parameters =>
            {
                parameters.AddWithValue("$after", (long)Math.Min(after, long.MaxValue));
                parameters.AddWithValue("$limit", limit);
            },
            command =>
            {
                var read = new List<ChatMessage>(Math.Min(limit, 1024));
                using SqliteDataReader reader = command.ExecuteReader();
                while (reader.Read())
                {
                    read.Add(new ChatMessage(
                        (ulong)reader.GetInt64(0), reader.GetInt64(1), (uint)reader.GetInt64(2), unchecked((ulong)reader.GetInt64(3)), reader.GetString(4), reader.GetString(5)));
                }

                return read;
            });
        if (reverse)
        {
            messages.Reverse();
        }

        return messages;
    }

    /// <summary>One read of a room's rows on a pooled read-only connection; a SQLite failure is a <see cref="ChatStoreException"/>.</summary>
    private T Query<T>(string sql, string room, Action<SqliteParameterCollection> parameters, Func<SqliteCommand, T> run)
    {
        try
        {
            using var connection = new SqliteConnection(_readConnectionString);
            connection.Open();
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = sql;
            command.Parameters.AddWithValue("$room", room);
            parameters(command.Parameters);
            return run(command);
        }
        catch (SqliteException ex)
        {
            throw new ChatStoreException($"cannot read the chat store: {FirstLine(ex.Message)}", ex);
        }
    }

    private void WriteLoop()
    {
        var batch = new List<Pending>(MaxBatch);
        ChannelReader<Pending> queue = _queue.Reader;
        try
        {
            while (queue.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            {
                batch.Clear();
                while (batch.Count < MaxBatch && queue.TryRead(out Pending? pending))
                {
                    batch.Add(pending);
                }

                Commit(batch);
            }
        }
        catch (Exception ex)
        {
            // Never expected (Commit answers every failure it knows of): nobody may wait for an answer that cannot come.
            ChatLog.StoreFailed(_logger, FilePath, ex.Message);
            var failure = new ChatStoreException($"the chat store stopped: {FirstLine(ex.Message)}", ex);
            _queue.Writer.TryComplete(failure);
            foreach (Pending p in batch)
            {
                p.Done.TrySetException(failure);
            }

            while (queue.TryRead(out Pending? left))
            {
                left.Done.TrySetException(failure);
            }
        }
    }

    /// <summary>One transaction for the batch; then the announcements in order, then the answers.</summary>
    private void Commit(List<Pending> batch)
    {
        try
        {
            using SqliteTransaction transaction = _writer.BeginTransaction(deferred: false);
            foreach (SqliteCommand command in (ReadOnlySpan<SqliteCommand>)[_lastSeq, _findClientId, _insert])
            {
                command.Transaction = transaction;
            }

            foreach (Pending p in batch)
            {
                StoreOne(p);
            }

            transaction.Commit();
        }
        catch (Exception ex) when (ex is SqliteException or InvalidOperationException or InvalidCastException or IOException)
        {
            ChatLog.StoreFailed(_logger, FilePath, ex.Message);
            var failure = new ChatStoreException($"the chat store failed: {FirstLine(ex.Message)}", ex);
            foreach (Pending p in batch)
            {
                p.Done.TrySetException(failure);
            }

            return;
        }

        Interlocked.Increment(ref _commits);
        foreach (Pending p in batch)
        {
            if (p.Result is { Duplicate: false } stored)
            {
                Interlocked.Increment(ref _messagesStored);
                try
                {
                    Stored?.Invoke(p.Room, stored.Message);
                }
#pragma warning disable CA1031 // The message is stored (history has it); one room's trouble must not stop the writer for every room.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    ChatLog.AnnounceFailed(_logger, p.Room, ex.Message);
                }
            }
        }

        foreach (Pending p in batch)
        {
            if (p.Failure is { } failure)
            {
                p.Done.TrySetException(failure);
            }
            else
            {
                p.Done.TrySetResult(p.Result!.Value);
            }
        }
    }

    private void StoreOne(Pending p)
    {
        _findClientId.Parameters["$room"].Value = p.Room;
        _findClientId.Parameters["$client"].Value = unchecked((long)p.ClientId);
        using (SqliteDataReader found = _findClientId.ExecuteReader())
        {
            if (found.Read())
            {
                string text = found.GetString(4);
                if (!string.Equals(text, p.Text, StringComparison.Ordinal))
                {
                    p.Failure = new ChatIdReusedException(p.ClientId);
                    return;
                }

                p.Result = new ChatAppendResult(
                    new ChatMessage((ulong)found.GetInt64(0), found.GetInt64(1), (uint)found.GetInt64(2), p.ClientId, found.GetString(3), text), Duplicate: true);
                return;
            }
        }

        _lastSeq.Parameters["$room"].Value = p.Room;
        ulong seq = (ulong)(long)_lastSeq.ExecuteScalar()! + 1;
        var message = new ChatMessage(seq, Clock.NowMicros(), p.ParticipantId, p.ClientId, p.Name, p.Text);
        _insert.Parameters["$room"].Value = p.Room;
        _insert.Parameters["$seq"].Value = (long)seq;
        _insert.Parameters["$sent"].Value = message.SentAtMicros;
        _insert.Parameters["$participant"].Value = (long)message.ParticipantId;
        _insert.Parameters["$client"].Value = unchecked((long)p.ClientId);
        _insert.Parameters["$name"].Value = p.Name;
        _insert.Parameters["$text"].Value = p.Text;
        _insert.ExecuteNonQuery();
        p.Result = new ChatAppendResult(message, Duplicate: false);
    }

    private SqliteCommand Prepare(string sql, params string[] parameters)
    {
        SqliteCommand command = _writer.CreateCommand();
        command.CommandText = sql;
        foreach (string name in parameters)
        {
            command.Parameters.Add(new SqliteParameter(name, null));
        }

        return command;
    }

    private static ulong StoreIdOf(SqliteConnection connection)
    {
        using SqliteCommand get = connection.CreateCommand();
        get.CommandText = "SELECT value FROM meta WHERE key = 'store_id'";
        if (get.ExecuteScalar() is string existing && ulong.TryParse(existing, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture, out ulong id) && id != 0)
        {
            return id;
        }

        ulong made;
        do
        {
            made = BitConverter.ToUInt64(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
        }
        while (made == 0);
        using SqliteCommand set = connection.CreateCommand();
        set.CommandText = "INSERT OR IGNORE INTO meta (key, value) VALUES ('store_id', $id)";
        set.Parameters.AddWithValue("$id", made.ToString("x16", System.Globalization.CultureInfo.InvariantCulture));
        set.ExecuteNonQuery();
        // Another hub opening the same new file at the same time may have won: its id is the file's.
        return get.ExecuteScalar() is string stored ? ulong.Parse(stored, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture) : made;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static string FirstLine(string text)
    {
        int newline = text.IndexOf('\n', StringComparison.Ordinal);
        return (newline < 0 ? text : text[..newline]).Trim();
    }

    private sealed class Pending(string room, uint participantId, string name, ulong clientId, string text)
    {
        public string Room { get; } = room;

        public uint ParticipantId { get; } = participantId;

        public string Name { get; } = name;

        public ulong ClientId { get; } = clientId;

        public string Text { get; } = text;

        public ChatAppendResult? Result { get; set; }

        public Exception? Failure { get; set; }

        public TaskCompletionSource<ChatAppendResult> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
