using System.Buffers;
using Microsoft.Extensions.Logging;
using SocketCam.Client;
using SocketCam.Codecs;
using SocketCam.Codecs.H264;
using SocketCam.Codecs.TurboJpeg;
using SocketCam.Diagnostics;
using SocketCam.Display;
using SocketCam.Media;
using SocketCam.Protocol;

namespace SocketCam.Cli.Commands;

/// <summary>
/// `socketcam call`'s window: one tile per video track of every other participant (a placeholder with the name while a
/// participant shows none), following the room's events. Frames arrive on the receive loop and only the newest per tile
/// is kept; one decode loop turns the newest of each into a picture for the window, so a busy call skips frames instead
/// of falling behind.
/// </summary>
internal sealed class CallScreen : IDisposable
{
    private readonly CallGridWindow _window;
    private readonly Lock _lock = new();
    private readonly Dictionary<(uint Participant, ushort Track), uint> _tileIds = [];
    private readonly Dictionary<uint, string> _names = [];
    private readonly Dictionary<(uint Participant, ushort Track), (bool Live, TrackSource Source)> _tracks = [];
    private readonly Dictionary<uint, Pending> _pending = [];
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _decodeLoop;
    private readonly IFrameDecoder _decoder;
    private readonly Dictionary<uint, H264Tile> _h264 = [];
    private readonly List<uint> _retired = [];
    private YuvToBgrConverter? _toBgr;
    private uint _self;
    private uint _nextTile = 1;
    private long _clockOffsetMicros;

    private CallScreen(CallGridWindow window, IFrameDecoder decoder)
    {
        _window = window;
        _decoder = decoder;
        _decodeLoop = Task.Run(DecodeLoopAsync);
    }

    public CancellationToken Closed => _window.Closed;

    public static async Task<CallScreen> OpenAsync(string room, string name, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        IFrameDecoder decoder = CodecFactory.CreateDecoder(CodecId.Jpeg);
        try
        {
            CallGridWindow window = await CallGridWindow.OpenAsync(
                new CallGridOptions { Title = $"SocketCam call: {room} ({PrintableText.Of(name)})", Room = room, Feature = "call", Alternative = "add --no-window" },
                loggers, cancellationToken);
            return new CallScreen(window, decoder);
        }
        catch
        {
            decoder.Dispose();
            throw;
        }
    }

    /// <summary>A new session's snapshot: every tile again, from the room as it is now.</summary>
    public void Reset(uint self, IReadOnlyList<ParticipantRecord> participants, IReadOnlyList<TrackRecord> tracks, long clockOffsetMicros)
    {
        lock (_lock)
        {
            foreach (uint id in _tileIds.Values)
            {
                _window.RemoveTile(id);
            }

            foreach (Pending pending in _pending.Values)
            {
                pending.Discard();
            }

            _pending.Clear();
            _tileIds.Clear();
            _names.Clear();
            _tracks.Clear();
            _self = self;
            Volatile.Write(ref _clockOffsetMicros, clockOffsetMicros);
            foreach (ParticipantRecord p in participants.Where(p => p.ParticipantId != self))
            {
                _names[p.ParticipantId] = p.Name;
            }

            foreach (TrackRecord t in tracks.Where(t => t.ParticipantId != self && t.Description.Kind == TrackKind.Video))
            {
                _tracks[(t.ParticipantId, t.Description.TrackId)] = (t.Live, t.Description.Source);
            }

            foreach (uint participant in _names.Keys)
            {
                LayOutLocked(participant);
            }
        }
    }

    public void Join(ParticipantRecord p)
    {
        lock (_lock)
        {
            if (p.ParticipantId != _self)
            {
                _names[p.ParticipantId] = p.Name;
                LayOutLocked(p.ParticipantId);
            }
        }
    }

    public void Leave(uint participant)
    {
        lock (_lock)
        {
            _names.Remove(participant);
            foreach ((uint, ushort) key in _tracks.Keys.Where(k => k.Participant == participant).ToList())
            {
                _tracks.Remove(key);
            }

            LayOutLocked(participant);
        }
    }

    public void Publish(TrackRecord t)
    {
        if (t.Description.Kind != TrackKind.Video)
        {
            return;
        }

        lock (_lock)
        {
            if (t.ParticipantId != _self)
            {
                _tracks[(t.ParticipantId, t.Description.TrackId)] = (t.Live, t.Description.Source);
                LayOutLocked(t.ParticipantId);
            }
        }
    }

    public void Unpublish(uint participant, ushort track)
    {
        lock (_lock)
        {
            if (_tracks.Remove((participant, track)))
            {
                LayOutLocked(participant);
            }
        }
    }

    public void State(uint participant, ushort track, bool live)
    {
        lock (_lock)
        {
            if (_tracks.TryGetValue((participant, track), out (bool Live, TrackSource Source) t) && t.Live != live)
            {
                _tracks[(participant, track)] = (live, t.Source);
                LayOutLocked(participant);
            }
        }
    }

    /// <summary>A frame of a subscribed track (on the receive loop): kept as its tile's newest, for the decode loop.</summary>
    public void Offer(in ReceivedFrame frame)
    {
        if (frame.Info.Codec is not (CodecId.Jpeg or CodecId.H264) || frame.Data.Length > int.MaxValue
            || frame.Info.Width is <= 0 or > FrameLimits.MaxDimension || frame.Info.Height is <= 0 or > FrameLimits.MaxDimension)
        {
            return;
        }

        uint tile;
        lock (_lock)
        {
            if (!_tileIds.TryGetValue((frame.ParticipantId, frame.TrackId), out tile))
            {
                return;
            }

            int length = (int)frame.Data.Length;
            if (!_pending.TryGetValue(tile, out Pending? pending))
            {
                pending = new Pending();
                _pending[tile] = pending;
            }

            pending.Set(frame.Data, length, frame.Info);
        }

        if (_wake.CurrentCount == 0)
        {
            try
            {
                _wake.Release();
            }
            catch (SemaphoreFullException)
            {
            }
        }
    }

    /// <summary>The tiles of one participant as its tracks say: one per video track, or one placeholder with its name.</summary>
    private void LayOutLocked(uint participant)
    {
        var wanted = new Dictionary<(uint, ushort), string>();
        if (_names.TryGetValue(participant, out string? name))
        {
            var tracks = _tracks.Where(t => t.Key.Participant == participant).OrderBy(t => t.Key.Track).ToList();
            if (tracks.Count == 0)
            {
                wanted[(participant, 0)] = name;
            }

            foreach (KeyValuePair<(uint Participant, ushort Track), (bool Live, TrackSource Source)> t in tracks)
            {
                string label = t.Value.Source == TrackSource.Screen ? $"{name} (screen)" : name;
                wanted[t.Key] = t.Value.Live ? label : $"{label} (no signal)";
            }
        }

        foreach ((uint, ushort) key in _tileIds.Keys.Where(k => k.Participant == participant && !wanted.ContainsKey(k)).ToList())
        {
            _window.RemoveTile(_tileIds[key]);
            if (_pending.Remove(_tileIds[key], out Pending? pending))
            {
                pending.Discard();
            }

            _retired.Add(_tileIds[key]); // its H.264 decoder, if any, is freed on the decode loop, which owns it

            _tileIds.Remove(key);
        }

        foreach (KeyValuePair<(uint, ushort), string> w in wanted)
        {
            if (!_tileIds.TryGetValue(w.Key, out uint id))
            {
                id = _nextTile++;
                _tileIds[w.Key] = id;
            }

            _window.SetTile(id, w.Value);
        }
    }

    private async Task DecodeLoopAsync()
    {
        try
        {
            while (true)
            {
                await _wake.WaitAsync(_stop.Token);
                while (TakeOne() is ({ } pending, var tile, bool more))
                {
                    try
                    {
                        if (pending.Info.Codec == CodecId.H264)
                        {
                            if (DecodeH264(tile, pending, show: !more) && _h264[tile].Picture is { } shown)
                            {
                                shown.CaptureMicros = pending.Info.CaptureMicros - Volatile.Read(ref _clockOffsetMicros);
                                _window.Offer(tile, shown); // the window copies it
                            }

                            await AskForKeyframeIfWaitingAsync(tile);
                            continue;
                        }

                        VideoFrame picture = VideoFrame.Rent(pending.Info.Width, pending.Info.Height);
                        try
                        {
                            _decoder.Decode(pending.Data.AsSpan(0, pending.Length), pending.Info.Width, pending.Info.Height, picture);

                            picture.CaptureMicros = pending.Info.CaptureMicros - Volatile.Read(ref _clockOffsetMicros);
                            _window.Offer(tile, picture);
                        }
                        finally
                        {
                            picture.Dispose();
                        }
                    }
                    catch (Exception ex) when (ex is InvalidDataException or ArgumentException or ObjectDisposedException or InvalidOperationException or NativeDependencyException)
                    {
                        // One corrupt picture (or a window closing): the next one will do.
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(pending.Data);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// An H.264 tile decodes every frame in order (each depends on the one before); only the newest becomes a picture for
    /// the window. False when there is nothing to show (not the newest, waiting for a keyframe, or a damaged frame).
    /// </summary>
    private bool DecodeH264(uint tile, Taken frame, bool show)
    {
        if (!_h264.TryGetValue(tile, out H264Tile? state))
        {
            state = new H264Tile(new H264Decoder());
            _h264[tile] = state;
        }

        using VideoFrame? decoded = state.Decoder.DecodeToI420(frame.Data.AsSpan(0, frame.Length));
        if (decoded is null || !show)
        {
            return false;
        }

        state.Picture?.Dispose();
        state.Picture = (_toBgr ??= new YuvToBgrConverter()).ToBgr(decoded);
        return state.Picture.Width == frame.Info.Width && state.Picture.Height == frame.Info.Height;
    }

    private (Taken? Frame, uint Tile, bool More) TakeOne()
    {
        lock (_lock)
        {
            foreach (uint gone in _retired)
            {
                if (_h264.Remove(gone, out H264Tile? state))
                {
                    state.Decoder.Dispose();
                    state.Picture?.Dispose();
                }
            }

            _retired.Clear();
            foreach ((uint tile, Pending p) in _pending)
            {
                if (p.Take() is { } taken)
                {
                    if (p.Overflowed)
                    {
                        // Frames were dropped here: what follows depends on them, so start again at a keyframe (a new
                        // decoder waits for one anyway).
                        if (_h264.TryGetValue(tile, out H264Tile? state))
                        {
                            state.Decoder.Reset();
                        }

                        p.Overflowed = false;
                    }

                    return (taken, tile, p.HasMore);
                }
            }
        }

        return (null, 0, false);
    }

    /// <summary>Sends a track's KEYFRAME_REQUEST (set by the call's session; the hub coalesces and rate-limits them).</summary>
    public Func<uint, ushort, CancellationToken, ValueTask>? RequestKeyframe { get; set; }

    /// <summary>A tile whose decoder waits for a keyframe (after a loss here or an error) asks for one, at most twice a second.</summary>
    private async ValueTask AskForKeyframeIfWaitingAsync(uint tile)
    {
        if (RequestKeyframe is not { } ask || !_h264.TryGetValue(tile, out H264Tile? state) || !state.Decoder.WaitingForKeyframe
            || Environment.TickCount64 - state.LastAsked < 500)
        {
            return;
        }

        (uint Participant, ushort Track)? key = null;
        lock (_lock)
        {
            foreach (KeyValuePair<(uint Participant, ushort Track), uint> t in _tileIds)
            {
                if (t.Value == tile)
                {
                    key = t.Key;
                }
            }
        }

        if (key is { } k)
        {
            state.LastAsked = Environment.TickCount64;
            try
            {
                await ask(k.Participant, k.Track, _stop.Token);
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException or InvalidOperationException)
            {
                // The session is going away; the next one's subscription asks for a keyframe by itself.
            }
        }
    }

    /// <summary>An H.264 tile's decoder and its newest picture (BGR, for the window).</summary>
    private sealed class H264Tile(H264Decoder decoder)
    {
        public H264Decoder Decoder { get; } = decoder;

        public VideoFrame? Picture { get; set; }

        /// <summary>When this tile last asked for a keyframe (Environment.TickCount64).</summary>
        public long LastAsked { get; set; } = long.MinValue / 2;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _decodeLoop.Wait(TimeSpan.FromSeconds(5));
        lock (_lock)
        {
            foreach (Pending pending in _pending.Values)
            {
                pending.Discard();
            }

            _pending.Clear();
        }

        _window.Stop();
        _decoder.Dispose();
        foreach (H264Tile tile in _h264.Values)
        {
            tile.Decoder.Dispose();
            tile.Picture?.Dispose();
        }

        _toBgr?.Dispose();
        _stop.Dispose();
        _wake.Dispose();
    }

    private sealed record Taken(byte[] Data, int Length, FrameInfo Info);

    /// <summary>
    /// A tile's undecoded frames: JPEG keeps the newest (a newer one replaces it); H.264 keeps them in order, up to
    /// <see cref="MaxQueued"/> (beyond that all are dropped and the decoder starts again at a keyframe).
    /// </summary>
    private sealed class Pending
    {
        private const int MaxQueued = 16;
        private readonly Queue<Taken> _frames = new();

        public bool Overflowed { get; set; }

        public bool HasMore => _frames.Count > 0;

        public void Set(System.Buffers.ReadOnlySequence<byte> data, int length, FrameInfo info)
        {
            byte[] copy = ArrayPool<byte>.Shared.Rent(length);
            data.CopyTo(copy);
            if (info.Codec != CodecId.H264 || _frames.Count >= MaxQueued)
            {
                Overflowed |= info.Codec == CodecId.H264;
                Discard();
            }

            _frames.Enqueue(new Taken(copy, length, info));
        }

        /// <summary>Gives the frames' buffers back (its tile went away).</summary>
        public void Discard()
        {
            while (Take() is { } t)
            {
                ArrayPool<byte>.Shared.Return(t.Data);
            }
        }

        public Taken? Take() => _frames.TryDequeue(out Taken? t) ? t : null;
    }
}
