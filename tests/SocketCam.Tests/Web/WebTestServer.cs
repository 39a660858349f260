using System.Net;
using System.Net.Http.Headers;
using System.Text;
using SocketCam.Media;
using SocketCam.Codecs;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Tests.Support;
using SocketCam.Web;

namespace SocketCam.Tests.Web;

/// <summary>
/// A <see cref="TestHub"/> capturing a test pattern into "main" plus a real Kestrel <see cref="HttpServer"/> on 127.0.0.1:0;
/// with a chat directory the hub keeps a chat store in it.
/// </summary>
internal sealed class WebTestServer : IAsyncDisposable
{
    private readonly Microsoft.Extensions.Logging.ILoggerFactory _loggers;

    private WebTestServer(TestHub hub, HttpServer web, Microsoft.Extensions.Logging.ILoggerFactory loggers)
    {
        _loggers = loggers;
        Hub = hub;
        Web = web;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{web.EndPoint.Port}"), Timeout = TestHub.Timeout };
    }

    public TestHub Hub { get; }

    public HttpServer Web { get; }

    public HttpClient Http { get; }

    public string Url => $"http://127.0.0.1:{Web.EndPoint.Port}";

    public Uri WebSocketUri(string path) => new($"ws://127.0.0.1:{Web.EndPoint.Port}{path}");

    public static async Task<WebTestServer> StartAsync(
        int width = 320, int height = 240, double fps = 30, string? token = null, string? captureRoom = "main", HubOptions? hubOptions = null, CodecId codec = CodecId.Jpeg,
        Func<HttpOptions, HttpOptions>? web = null, string? chatDirectory = null)
    {
        if (chatDirectory is not null)
        {
            // The hub keeps a chat store there (serve --data DIR): CHAT_SEND, CHAT_MESSAGE and CHAT_HISTORY work.
            hubOptions = (hubOptions ?? new HubOptions()) with { Chat = new SocketCam.Chat.ChatOptions { Directory = chatDirectory } };
        }

        TestHub hub = TestHub.Start(options: hubOptions, captureRoom: captureRoom, codec: codec, width: width, height: height, fps: fps);
        Microsoft.Extensions.Logging.ILoggerFactory loggers = hub.Logs.CreateFactory();
        var options = new HttpOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, 0), Token = token };
        var server = new HttpServer(hub.Server, web is null ? options : web(options), loggers);
        try
        {
            await server.StartAsync(CancellationToken.None);
        }
        catch
        {
            await server.DisposeAsync();
            await hub.DisposeAsync();
            loggers.Dispose();
            throw;
        }

        return new WebTestServer(hub, server, loggers);
    }

    /// <summary>Opens a stream and returns the response with its body (headers read, body streaming).</summary>
    public async Task<(HttpResponseMessage Response, MultipartReader Parts)> OpenStreamAsync(string path)
    {
        HttpResponseMessage response = await Http.GetAsync(path, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        MediaTypeHeaderValue type = response.Content.Headers.ContentType!;
        Assert.Equal("multipart/x-mixed-replace", type.MediaType);
        string boundary = type.Parameters.Single(p => p.Name == "boundary").Value!;
        return (response, new MultipartReader(await response.Content.ReadAsStreamAsync(), boundary));
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Web.DisposeAsync().AsTask().WaitAsync(TestHub.Timeout);
        await Hub.DisposeAsync();
        _loggers.Dispose();
    }
}

/// <summary>
/// Reads `multipart/x-mixed-replace` exactly as SocketCam promises to write it: an opening boundary line, then per part
/// headers, Content-Length bytes of JPEG, and at once "\r\n--boundary\r\n". Anything else fails the test.
/// </summary>
internal sealed class MultipartReader(Stream stream, string boundary)
{
    private readonly byte[] _buffer = new byte[1 << 20];
    private int _start;
    private int _end;
    private bool _opened;

    public string Boundary => boundary;

    /// <summary>The next part's headers and JPEG, after checking that the closing boundary follows it immediately.</summary>
    public async Task<(Dictionary<string, string> Headers, byte[] Jpeg)> ReadPartAsync(CancellationToken cancellationToken)
    {
        if (!_opened)
        {
            Assert.Equal($"--{boundary}", await ReadLineAsync(cancellationToken));
            _opened = true;
        }

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        while (await ReadLineAsync(cancellationToken) is { Length: > 0 } line)
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            Assert.True(colon > 0, $"bad part header line '{line}'");
            headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }

        int length = int.Parse(headers["Content-Length"], System.Globalization.CultureInfo.InvariantCulture);
        byte[] jpeg = await ReadExactlyAsync(length, cancellationToken);
        // The closing boundary is part of this frame on the wire: reading it must not need another frame.
        byte[] end = await ReadExactlyAsync(boundary.Length + 6, cancellationToken);
        Assert.Equal($"\r\n--{boundary}\r\n", Encoding.ASCII.GetString(end));
        return (headers, jpeg);
    }

    private async Task<string> ReadLineAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            int newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (newline >= 0)
            {
                Assert.True(newline > _start && _buffer[newline - 1] == '\r', "a multipart line must end with CRLF");
                string line = Encoding.ASCII.GetString(_buffer, _start, newline - 1 - _start);
                _start = newline + 1;
                return line;
            }

            Assert.True(_end - _start < 4096, "a multipart header line is far too long");
            await FillAsync(cancellationToken);
        }
    }

    private async Task<byte[]> ReadExactlyAsync(int count, CancellationToken cancellationToken)
    {
        byte[] result = new byte[count];
        int copied = 0;
        while (copied < count)
        {
            if (_start == _end)
            {
                await FillAsync(cancellationToken);
            }

            int n = Math.Min(count - copied, _end - _start);
            Array.Copy(_buffer, _start, result, copied, n);
            _start += n;
            copied += n;
        }

        return result;
    }

    private async Task FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            Array.Copy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        int n = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
        Assert.True(n > 0, "the MJPEG stream ended");
        _end += n;
    }
}
