using System.Buffers.Binary;
using SocketCam.Transfer;
using SocketCam.Udp;

namespace SocketCam.Sniff;

/// <summary>
/// Reads one UDP flow's datagrams as SocketCam: live video (SCUV, §2.0) or an image transfer (SCIM, §2.1). Every
/// datagram is judged by the engine's own strict readers (<see cref="UdpWire"/>, <see cref="UdpChunkHeader"/>,
/// <see cref="TransferControl"/>), so "malformed" here means what the receiving program would drop.
/// Frames are followed per direction by frame id: complete (every data fragment seen, or rebuildable from parity),
/// incomplete (given up), fragments seen twice (resends after a NACK).
/// </summary>
internal sealed class DatagramDissector(SessionFigures figures, PendingBudget bitmaps)
{
    private readonly FrameProgress _fromClient = new(bitmaps);
    private readonly FrameProgress _fromServer = new(bitmaps);
    /// <summary>Parts of one transfer told apart (a bitmap): more than this (a 4.8 GB file) are counted without it.</summary>
    private const int MaxTrackedParts = 1 << 22;

    private ulong[] _imageParts = [];
    private bool _haveTransfer;
    private ulong _transferId;

    public SessionFigures Figures { get; } = figures;

    public static bool IsLiveVideo(ReadOnlySpan<byte> d) => d.Length >= UdpWire.PrefixSize && BinaryPrimitives.ReadUInt32BigEndian(d) == UdpWire.Magic;

    public static bool IsImageTransfer(ReadOnlySpan<byte> d) => d.Length >= 16 && BinaryPrimitives.ReadUInt32BigEndian(d) == TransferProtocol.Magic;

    public void Datagram(bool fromClient, ReadOnlySpan<byte> d)
    {
        if (Figures.Format == SessionFormat.ImageUdp)
        {
            Image(fromClient, d);
        }
        else
        {
            Live(fromClient, d);
        }
    }

    private void Bad(bool fromClient, string what) =>
        Figures.MarkMalformed($"{(fromClient ? "from the client" : "from the server")}: {what}");

    private void Live(bool fromClient, ReadOnlySpan<byte> d)
    {
        if (d.Length > UdpWire.MaxDatagram + DatagramSeal.Overhead || d.Length < UdpWire.PrefixSize || d[4] != UdpWire.Version || !UdpWire.IsKnownType(d[5]))
        {
            Figures.CountMessage(fromClient, d.Length >= 6 ? MessageNames.OfDatagram(d[5]) : "SHORT");
            Bad(fromClient, $"datagram of {d.Length} bytes with version {(d.Length > 4 ? d[4] : 0)}, type 0x{(d.Length > 5 ? d[5] : 0):X2}");
            return;
        }

        var type = (DatagramType)d[5];
        Figures.CountMessage(fromClient, MessageNames.OfDatagram(d[5]));
        if (DatagramSeal.IsMarkedSealed(d))
        {
            Figures.Sealed = true; // the prefix is all that is in clear
            return;
        }

        bool ok = type switch
        {
            DatagramType.Hello => Hello(d),
            DatagramType.Welcome => UdpWire.TryReadWelcome(d, out _),
            DatagramType.Refuse => Refuse(d),
            DatagramType.Fragment => Fragment(fromClient, d),
            DatagramType.Nack => Nack(d),
            DatagramType.Report => Report(d),
            DatagramType.Done => UdpWire.TryReadDone(d, out _),
            DatagramType.Audio => Audio(fromClient, d),
            DatagramType.AudioNack => AudioNack(d),
            DatagramType.KeyframeRequest => KeyframeRequest(d),
            DatagramType.Ping => UdpWire.TryReadPing(d, out _),
            DatagramType.Pong => UdpWire.TryReadPong(d, out _),
            DatagramType.Signal => UdpWire.TryReadSignal(d, out _),
            DatagramType.Bye => Bye(fromClient, d),
            _ => false,
        };
        if (!ok)
        {
            Bad(fromClient, $"{MessageNames.OfDatagram(d[5])} of {d.Length} bytes does not follow its layout");
        }
    }

    private bool Hello(ReadOnlySpan<byte> d)
    {
        if (!UdpWire.TryReadHello(d, out UdpHello hello))
        {
            return false;
        }

        Figures.Room = hello.Room;
        Figures.Role = hello.Role == Protocol.PeerRole.Publisher ? "publisher" : "viewer";
        return true;
    }

    private bool Refuse(ReadOnlySpan<byte> d)
    {
        if (!UdpWire.TryReadRefuse(d, out UdpRefuse refuse))
        {
            return false;
        }

        Figures.EndReason = $"REFUSE {StreamAccounting.ErrorName((ushort)refuse.Code)}: {Protocol.PrintableText.Of(refuse.Text)}";
        return true;
    }

    private bool Bye(bool fromClient, ReadOnlySpan<byte> d)
    {
        if (!UdpWire.TryReadBye(d, out var bye))
        {
            return false;
        }

        Figures.EndReason = $"BYE {StreamAccounting.ErrorName((ushort)bye.Code)}{(bye.Text.Length > 0 ? ": " + Protocol.PrintableText.Of(bye.Text) : "")} ({(fromClient ? "client" : "server")})";
        Figures.Ended = true;
        return true;
    }

    private bool Fragment(bool fromClient, ReadOnlySpan<byte> d)
    {
        if (!UdpWire.TryReadFragment(d, UdpWire.MaxFrameBytes, out FragmentHeader h, out _))
        {
            return false;
        }

        Figures.Fragments++;
        if (h.IsParity)
        {
            Figures.ParityFragments++;
        }

        FrameProgress progress = fromClient ? _fromClient : _fromServer;
        switch (progress.Add(h))
        {
            case FragmentOutcome.Duplicate:
                Figures.Resends++;
                break;
            case FragmentOutcome.Completed:
                TrackFigures t = Figures.Track("video", fromClient);
                t.Codec = SessionFigures.CodecName((byte)h.Codec);
                t.Width = h.Width;
                t.Height = h.Height;
                t.Count(h.TotalLength, keyframe: Media.CodecIds.AllKeyframes(h.Codec));
                break;
        }

        Figures.FramesIncomplete = _fromClient.GivenUp + _fromServer.GivenUp;
        return true;
    }

    private bool Nack(ReadOnlySpan<byte> d)
    {
        if (!UdpWire.TryReadNack(d, out uint _, out ReadOnlySpan<byte> indexes))
        {
            return false;
        }

        Figures.Nacks++;
        Figures.NackedItems += indexes.Length / 2;
        return true;
    }

    private bool Report(ReadOnlySpan<byte> d)
    {
        if (!UdpWire.TryReadReport(d, out UdpReport r))
        {
            return false;
        }

        Figures.ReportedExpected += r.FragmentsExpected;
        Figures.ReportedLost += r.FragmentsLost;
        Figures.ReportedFramesLost += r.FramesLost;
        return true;
    }

    private bool Audio(bool fromClient, ReadOnlySpan<byte> d)
    {
        if (!UdpWire.TryReadAudio(d, out UdpAudioHeader h, out _))
        {
            return false;
        }

        if (h.Resent)
        {
            Figures.Resends++;
            return true;
        }

        TrackFigures t = Figures.Track("audio", fromClient);
        t.Kind = "audio";
        t.Codec = SessionFigures.CodecName((byte)h.Codec);
        t.Count(h.PayloadLength, keyframe: true);
        return true;
    }

    private bool AudioNack(ReadOnlySpan<byte> d)
    {
        if (!UdpWire.TryReadAudioNack(d, out ReadOnlySpan<byte> ids))
        {
            return false;
        }

        Figures.Nacks++;
        Figures.NackedItems += ids.Length / 4;
        return true;
    }

    private bool KeyframeRequest(ReadOnlySpan<byte> d)
    {
        if (!UdpWire.TryReadKeyframeRequest(d, out _))
        {
            return false;
        }

        Figures.KeyframeRequests++;
        return true;
    }

    private void Image(bool fromClient, ReadOnlySpan<byte> d)
    {
        if (!TransferProtocol.TryReadDatagramPrefix(d, out TransferMessageType type, out _))
        {
            Figures.CountMessage(fromClient, d.Length > 5 ? $"0x{d[5]:X2}" : "SHORT");
            Bad(fromClient, $"image-transfer datagram of {d.Length} bytes with a bad prefix");
            return;
        }

        string name = type switch
        {
            TransferMessageType.Data => "DATA",
            TransferMessageType.Nack => "NACK",
            TransferMessageType.Ack => "ACK",
            TransferMessageType.Done => "DONE",
            TransferMessageType.Abort => "ABORT",
            _ => $"0x{(byte)type:X2}",
        };
        Figures.CountMessage(fromClient, name);
        bool ok;
        switch (type)
        {
            case TransferMessageType.Data:
                ok = UdpChunkHeader.TryParse(d, out UdpChunkHeader h, out _, out _);
                if (ok)
                {
                    if (!_haveTransfer || h.TransferId != _transferId)
                    {
                        // A new transfer: its own parts, told apart by a bitmap when it is not too large for the budget.
                        _haveTransfer = true;
                        _transferId = h.TransferId;
                        bitmaps.Give(_imageParts.Length * 8L);
                        int words = (h.Count + 63) / 64;
                        _imageParts = h.Count <= MaxTrackedParts && bitmaps.TryTake(words * 8L) ? new ulong[words] : [];
                        Figures.ImagePartsSeen = 0;
                    }

                    Figures.ImageLength = h.TotalLength;
                    Figures.ImagePartsTotal = h.Count;
                    if (FirstTime(h.Index))
                    {
                        Figures.ImagePartsSeen++;
                        Figures.Track("file", fromClient).Count(h.PayloadLength, keyframe: false);
                    }
                    else
                    {
                        Figures.Resends++;
                    }
                }

                break;
            case TransferMessageType.Nack:
                Span<PartRange> ranges = stackalloc PartRange[TransferProtocol.MaxNackRanges];
                ok = TransferControl.TryParseNack(d, Figures.ImagePartsTotal > 0 ? (int)Figures.ImagePartsTotal : int.MaxValue, ranges, out int missing, out _, out _);
                if (ok)
                {
                    Figures.Nacks++;
                    Figures.NackedItems += missing;
                }

                break;
            case TransferMessageType.Ack:
                ok = TransferControl.TryParseAck(d, out _, out _);
                if (ok)
                {
                    Figures.EndReason = "ACK";
                }

                break;
            case TransferMessageType.Done:
                ok = TransferControl.IsDone(d);
                Figures.Ended |= ok;
                break;
            case TransferMessageType.Abort:
                ok = TransferControl.TryParseAbort(d, out TransferCode code, out _);
                if (ok)
                {
                    Figures.EndReason = $"ABORT {code}";
                    Figures.Ended = true;
                }

                break;
            default:
                ok = false;
                break;
        }

        if (!ok)
        {
            Bad(fromClient, $"{name} of {d.Length} bytes does not follow its layout");
        }
    }

    /// <summary>Gives back what the flow's bitmaps took (the flow is done with).</summary>
    public void Release()
    {
        bitmaps.Give(_imageParts.Length * 8L);
        _imageParts = [];
        _fromClient.Release();
        _fromServer.Release();
    }

    /// <summary>Marks a part seen; false when it was already (a resend). Without a bitmap (a huge transfer) every part is new.</summary>
    private bool FirstTime(int index)
    {
        if (index >= _imageParts.Length * 64)
        {
            return true;
        }

        ulong bit = 1UL << (index & 63);
        bool first = (_imageParts[index >> 6] & bit) == 0;
        _imageParts[index >> 6] |= bit;
        return first;
    }

    private enum FragmentOutcome { Stored, Duplicate, Completed, Stale, Untracked }

    /// <summary>
    /// One direction's frames in flight by frame id: which fragments were seen, and whether the frame is whole. Each
    /// frame's bitmap (up to 8 KiB) is taken from the sniffer's shared budget; without room the frame is not followed.
    /// </summary>
    private sealed class FrameProgress(PendingBudget budget)
    {
        private const int Window = 16;
        private readonly Dictionary<uint, Frame> _frames = [];
        private uint _newest;
        private bool _any;

        public long GivenUp { get; private set; }

        public FragmentOutcome Add(in FragmentHeader h)
        {
            if (!_frames.TryGetValue(h.FrameId, out Frame? frame))
            {
                if (_any && (int)(h.FrameId - _newest) < -Window)
                {
                    return FragmentOutcome.Stale; // long finished or given up
                }

                if (!budget.TryTake(Frame.BytesFor(h.DataCount, h.Group)))
                {
                    return FragmentOutcome.Untracked;
                }

                frame = new Frame(h.DataCount, h.Group);
                _frames[h.FrameId] = frame;
                if (!_any || (int)(h.FrameId - _newest) > 0)
                {
                    _newest = h.FrameId;
                    _any = true;
                }

                if (_frames.Count > Window)
                {
                    Evict();
                }
            }

            if (!frame.Mark(h.Index))
            {
                return FragmentOutcome.Duplicate;
            }

            if (!frame.Complete && frame.Whole())
            {
                frame.Complete = true;
                return FragmentOutcome.Completed;
            }

            return FragmentOutcome.Stored;
        }

        private void Evict()
        {
            foreach ((uint id, Frame f) in _frames)
            {
                if ((int)(_newest - id) >= Window)
                {
                    if (!f.Complete)
                    {
                        GivenUp++;
                    }

                    budget.Give(f.Bytes);
                    _frames.Remove(id);
                }
            }
        }

        public void Release()
        {
            foreach (Frame f in _frames.Values)
            {
                budget.Give(f.Bytes);
            }

            _frames.Clear();
        }

        private sealed class Frame(int dataCount, int group)
        {
            private readonly ulong[] _seen = new ulong[BytesFor(dataCount, group) / 8];

            /// <summary>What a frame's bitmap of every data and parity fragment takes from the budget.</summary>
            public static int BytesFor(int dataCount, int group) => (dataCount + UdpWire.ParityCount(dataCount, group) + 63) / 64 * 8;

            public long Bytes => _seen.Length * 8L;
            private int _data;
            private int _parity;

            public bool Complete { get; set; }

            public bool Mark(int index)
            {
                if (index >= _seen.Length * 64)
                {
                    return true;
                }

                ulong bit = 1UL << (index & 63);
                if ((_seen[index >> 6] & bit) != 0)
                {
                    return false;
                }

                _seen[index >> 6] |= bit;
                if (index < dataCount)
                {
                    _data++;
                }
                else
                {
                    _parity++;
                }

                return true;
            }

            /// <summary>Every data fragment, or every group short of at most one with its parity there.</summary>
            public bool Whole()
            {
                if (_data == dataCount)
                {
                    return true;
                }

                if (group == 0 || _data + _parity < dataCount) // too few fragments yet: skip the walk
                {
                    return false;
                }

                for (int g = 0; g * group < dataCount; g++)
                {
                    int missing = 0;
                    for (int i = g * group; i < Math.Min(dataCount, (g + 1) * group); i++)
                    {
                        if (!Seen(i))
                        {
                            missing++;
                        }
                    }

                    if (missing > 1 || (missing == 1 && !Seen(dataCount + g)))
                    {
                        return false;
                    }
                }

                return true;
            }

            private bool Seen(int index) => (_seen[index >> 6] & (1UL << (index & 63))) != 0;
        }
    }
}
