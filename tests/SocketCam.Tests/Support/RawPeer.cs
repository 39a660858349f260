using System.Buffers;
using System.Net;
using System.Net.Sockets;
using SocketCam.Media;
using SocketCam.Codecs;
using SocketCam.Protocol;

namespace SocketCam.Tests.Support;

/// <summary>A message read back from the hub: its type and a copy of its payload.</summary>
internal readonly record struct RawMessage(MessageType Type, byte[] Payload);

/// <summary>
/// A hand-driven TCP peer: sends whatever bytes a test wants and reads the hub's answers with the real
/// <see cref="MessageParser"/>, so a test can see the ERROR the hub sends before it closes, and the close itself.
/// </summary>
internal sealed class RawPeer : IAsyncDisposable
{
    private readonly Socket _socket;
    private byte[] _pending = [];
    private bool _prefaceRead;

    private RawPeer(Socket socket)
    {
        _socket = socket;
    }

    /// <summary>The peer's own address, which the hub logs as the remote end.</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    public Socket Socket => _socket;

    /// <param name="receiveBufferSize">Set a small SO_RCVBUF to make a peer that never reads stall the hub quickly.</param>
    /// <param name="from">Connect from this loopback address (127.0.0.0/8 is all loopback on Linux), e.g. 127.0.0.2 to be another host.</param>
    public static async Task<RawPeer> ConnectAsync(IPEndPoint hub, int? receiveBufferSize = null, IPAddress? from = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (receiveBufferSize is { } size)
        {
            socket.ReceiveBufferSize = size;
        }

        if (from is not null)
        {
            socket.Bind(new IPEndPoint(from, 0));
        }

        try
        {
            await socket.ConnectAsync(hub).WaitAsync(TestHub.Timeout);
            return new RawPeer(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public async Task SendAsync(ReadOnlyMemory<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            int sent = await _socket.SendAsync(bytes, SocketFlags.None).AsTask().WaitAsync(TestHub.Timeout);
            bytes = bytes[sent..];
        }
    }

    public Task SendPrefaceAsync(ushort version = ProtocolConstants.Version)
    {
        byte[] preface = Preface(version);
        return SendAsync(preface);
    }

    public Task SendHelloAsync(PeerRole role, string room, string token = "", string agent = "raw peer") =>
        SendAsync(Hello(role, room, token, agent));

    /// <summary>Sends preface + HELLO and reads the hub's preface + WELCOME (fails if the hub answers anything else).</summary>
    public async Task<WelcomeMessage> HandshakeAsync(PeerRole role, string room, string token = "")
    {
        byte[] handshake = [.. Preface(), .. Hello(role, room, token, "raw peer")];
        await SendAsync(handshake);
        RawMessage? message = await ReadMessageAsync();
        Assert.True(message is not null, "The hub closed instead of answering HELLO.");
        if (message.Value.Type == MessageType.Error)
        {
            CloseMessage error = MessageParser.ParseClose(new ReadOnlySequence<byte>(message.Value.Payload));
            Assert.Fail($"The hub refused the handshake: {error.Code.ToWireName()}: {error.Text}");
        }

        Assert.Equal(MessageType.Welcome, message.Value.Type);
        return MessageParser.ParseWelcome(new ReadOnlySequence<byte>(message.Value.Payload));
    }

    /// <summary>
    /// Reads the hub's preface (once) and then one message; null when the hub closed (EOF or reset) between messages.
    /// A close in the middle of a message fails the test.
    /// </summary>
    public async Task<RawMessage?> ReadMessageAsync(int maxFrameBytes = 64 * 1024 * 1024)
    {
        byte[] buffer = new byte[64 * 1024];
        while (true)
        {
            var sequence = new ReadOnlySequence<byte>(_pending);
            if (!_prefaceRead && MessageParser.TryReadPreface(ref sequence))
            {
                _prefaceRead = true;
            }

            if (_prefaceRead && MessageParser.TryReadMessage(ref sequence, maxFrameBytes, out MessageType type, out ReadOnlySequence<byte> payload))
            {
                var message = new RawMessage(type, payload.ToArray());
                _pending = sequence.ToArray();
                return message;
            }

            _pending = sequence.ToArray();
            int read = await ReceiveAsync(buffer);
            if (read == 0)
            {
                Assert.True(_pending.Length == 0, $"The hub closed with {_pending.Length} bytes of an unfinished message (preface read: {_prefaceRead}).");
                return null;
            }

            _pending = [.. _pending, .. buffer.AsSpan(0, read)];
        }
    }

    /// <summary>Reads until the hub's ERROR (skipping frames and pings) and returns it; fails if the hub closes without one.</summary>
    public async Task<CloseMessage> ReadErrorAsync()
    {
        while (true)
        {
            RawMessage? message = await ReadMessageAsync();
            Assert.True(message is not null, "The hub closed the connection without sending ERROR.");
            if (message.Value.Type == MessageType.Error)
            {
                return MessageParser.ParseClose(new ReadOnlySequence<byte>(message.Value.Payload));
            }

            Assert.True(message.Value.Type is MessageType.VideoFrame or MessageType.Ping or MessageType.Pong, $"Unexpected {message.Value.Type} before the ERROR.");
        }
    }

    /// <summary>Asserts the hub closed the connection: a read returns 0 (or the connection was reset) with nothing more sent.</summary>
    public async Task AssertClosedAsync()
    {
        byte[] buffer = new byte[64 * 1024];
        long extra = _pending.Length;
        while (true)
        {
            int read = await ReceiveAsync(buffer);
            if (read == 0)
            {
                break;
            }

            extra += read;
        }

        Assert.True(extra == 0, $"The hub sent {extra} more bytes after its ERROR (a fatal ERROR must be the last message).");
    }

    /// <summary>Half-closes (FIN) our side: the hub sees end of stream.</summary>
    public void ShutdownSend() => _socket.Shutdown(SocketShutdown.Send);

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }

    public static byte[] Preface(ushort version = ProtocolConstants.Version)
    {
        byte[] preface = new byte[ProtocolConstants.PrefaceSize];
        MessageWriter.WritePreface(preface);
        preface[4] = (byte)(version >> 8);
        preface[5] = (byte)version;
        return preface;
    }

    public static byte[] Hello(PeerRole role, string room, string token = "", string agent = "raw peer")
    {
        byte[] buffer = new byte[MessageWriter.MaxControlMessageSize];
        int length = MessageWriter.WriteHello(buffer, new HelloMessage(role, room, token, agent));
        return buffer[..length];
    }

    /// <summary>A whole SIGNAL message.</summary>
    public static byte[] Signal(bool live, string text)
    {
        byte[] buffer = new byte[MessageWriter.MaxControlMessageSize];
        int length = MessageWriter.WriteSignal(buffer, new SignalMessage(live, text));
        return buffer[..length];
    }

    /// <summary>A whole VIDEO_FRAME message around <paramref name="data"/>.</summary>
    public static byte[] FrameMessage(CodecId codec, int width, int height, long sequence, ReadOnlySpan<byte> data, long captureMicros = 0)
    {
        byte[] message = new byte[ProtocolConstants.FrameMessageOverhead + data.Length];
        MessageWriter.WriteVideoFrameHeaders(message, new VideoFrameHeader(codec, width, height, sequence, captureMicros), data.Length);
        data.CopyTo(message.AsSpan(ProtocolConstants.FrameMessageOverhead));
        return message;
    }

    /// <summary>Reads; a reset by the hub counts as a close (0).</summary>
    private async Task<int> ReceiveAsync(byte[] buffer)
    {
        try
        {
            return await _socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(TestHub.Timeout);
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
        {
            return 0;
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"The hub neither sent anything nor closed the connection within {TestHub.Timeout.TotalSeconds:0} s.");
        }
    }
}
