using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Rooms;
using SocketCam.Transport;

namespace SocketCam.Benchmarks;

/// <summary>
/// The send path per frame, which must allocate nothing (issue 14): a frame published to a track with
/// <see cref="Subscribers"/> protocol v2 subscribers (wire headers written once, a reference offered to every
/// subscriber's <see cref="VideoSlot"/>, each subscriber's <see cref="Outbox"/> woken, every reference taken and released),
/// and the socket write itself: header and shared payload in one gather send over a real loopback TCP connection.
/// MemoryDiagnoser's "Allocated" column is the proof: it counts every thread's allocations.
/// </summary>
[MemoryDiagnoser]
public class FanOutBenchmarks
{
    private const int PayloadBytes = 100_000; // a 1280x720 JPEG at quality 80
    private Room _room = null!;
    private Track _track = null!;
    private Outbox[] _outboxes = null!;
    private long _sequence;

    private Socket _sender = null!;
    private Socket _receiver = null!;
    private Thread _drain = null!;
    private GatherSender _gather = null!;
    private MediaFrame _frame = null!;

    [Params(1, 300)]
    public int Subscribers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _room = new Room("bench") { Limits = new RoomLimits { MaxParticipants = 1024 } };
        Participant publisher = _room.Join("publisher", ParticipantTransport.Tcp, ParticipantFlags.None, hidden: false, new Outbox(1024, 1 << 20));
        _room.PublishTrack(publisher, 1, new TrackDescription(1, TrackKind.Video, CodecId.Jpeg, TrackSource.Synthetic, "camera", 1280, 720, 30_000), out Track? track);
        _track = track!;
        _outboxes = new Outbox[Subscribers];
        for (int i = 0; i < Subscribers; i++)
        {
            _outboxes[i] = new Outbox(1 << 16, 1L << 30);
            Participant subscriber = _room.Join($"s{i}", ParticipantTransport.Tcp, ParticipantFlags.None, hidden: true, _outboxes[i]);
            if (_room.Subscribe(subscriber, 1, publisher.Id, 1, 0).Code != ErrorCode.Normal)
            {
                throw new InvalidOperationException("SUBSCRIBE refused.");
            }
        }

        foreach (Outbox outbox in _outboxes)
        {
            while (outbox.TakeControl() is not null)
            {
                // the join snapshots and RESULTs of the setup
            }
        }

        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        _sender = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        _sender.Connect(listener.LocalEndPoint!);
        _receiver = listener.Accept();
        _drain = new Thread(Drain) { IsBackground = true, Name = "drain" };
        _drain.Start();
        _gather = new GatherSender();
        _frame = MediaFrame.Rent(PayloadBytes);
        _frame.Complete(FrameInfo.Video(CodecId.Jpeg, 1280, 720, 0, 0), PayloadBytes);
        FrameFraming.Stamp(_frame, 0);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _frame.Release();
        _sender.Dispose();
        _drain.Join();
        _receiver.Dispose();
        _gather.Dispose();
        _room.Dispose();
    }

    /// <summary>Publish one frame to the track and deliver it to every subscriber (taken and released, as their senders do).</summary>
    [Benchmark]
    public int PublishAndTakeEveryDelivery()
    {
        MediaFrame frame = MediaFrame.Rent(PayloadBytes);
        frame.Complete(FrameInfo.Video(CodecId.Jpeg, 1280, 720, ++_sequence, _sequence), PayloadBytes);
        ValueTask published = _room.PublishAsync(_track, frame, CancellationToken.None);
        if (!published.IsCompletedSuccessfully)
        {
            throw new InvalidOperationException("A track that is not the primary one publishes synchronously.");
        }

        frame.Release();
        int taken = 0;
        foreach (Outbox outbox in _outboxes)
        {
            if (outbox.TakeFrame(out _) is { } mine)
            {
                mine.Release();
                taken++;
            }
        }

        return taken;
    }

    /// <summary>One frame's v2 FRAME header and payload in one sendmsg on a real TCP socket (its reader drains the other end).</summary>
    [Benchmark]
    public ValueTask GatherSendOneFrame() => _gather.SendAllAsync(_sender, FrameFraming.V2Header(_frame), _frame.PayloadSegment);

    private void Drain()
    {
        byte[] buffer = new byte[1 << 20];
        try
        {
            while (_receiver.Receive(buffer) > 0)
            {
            }
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
