using System.Buffers;
using SocketCam.Media;

namespace SocketCam.Udp;

/// <summary>
/// Rebuilds frames from FRAGMENT datagrams for one receiving direction of a session (docs/PROTOCOL.md §2.0): any
/// order, duplicates dropped, one lost data fragment per parity group rebuilt as soon as the rest of the group is
/// there, NACKs for what parity cannot rebuild, and the live-video rules: at most a few frames in reassembly, a
/// deadline, only frames newer than the last one delivered, and a window of frame ids a stray datagram cannot move.
/// Times are the caller's clock in µs. Not thread-safe: one receive loop drives it. Memory follows what has arrived, not
/// what a header claims: a frame's storage is taken in chunks (<see cref="ReassemblyChunks"/>) as its fragments arrive,
/// each chunk and the frame's bookkeeping reserved from the <see cref="ReassemblyBudget"/> first (a fragment the budget
/// cannot take is dropped and counted as over budget), and all of it is released when the frame is delivered, dropped
/// or the reassembler is disposed.
/// </summary>
internal sealed class FrameReassembler : IDisposable
{
    private const byte Received = 1;
    private const byte Nacked = 2;
    private const byte Rebuilt = 4;
    private const int Stride = UdpWire.FragmentPayload;

    private readonly ReassemblyOptions _options;
    private readonly ReassemblyBudget _budget;
    private readonly int _maxFrameBytes;
    private readonly Slot[] _slots;
    private readonly Slot[] _ordered;
    private readonly List<ushort> _nackScratch = [];

    private bool _started;
    private uint _newest;
    private bool _haveFloor;
    private uint _floor;
    private long _lastProgressMicros;

    private long _fragmentsReceived;
    private long _duplicates;
    private long _recovered;
    private long _retransmitted;
    private long _fragmentsExpected;
    private long _fragmentsLost;
    private long _framesCompleted;
    private long _framesLost;
    private long _framesExpired;
    private long _framesEvicted;
    private long _framesSuperseded;
    private long _framesUnseen;
    private long _framesResynced;
    private long _malformed;
    private long _inconsistent;
    private long _tooLarge;
    private long _overBudget;
    private long _late;
    private long _farFuture;
    private long _resyncs;
    private long _fragmentsNacked;

    private long _reportedExpected;
    private long _reportedLost;
    private long _reportedCompleted;
    private long _reportedFramesLost;

    public FrameReassembler(int maxFrameBytes, ReassemblyOptions? options = null, ReassemblyBudget? budget = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxFrameBytes);
        _options = options ?? ReassemblyOptions.Default;
        _budget = budget ?? ReassemblyBudget.Unlimited;
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxFramesInFlight, 1, nameof(options));
        _maxFrameBytes = maxFrameBytes;
        _slots = new Slot[_options.MaxFramesInFlight];
        _ordered = new Slot[_options.MaxFramesInFlight];
        for (int i = 0; i < _slots.Length; i++)
        {
            _slots[i] = new Slot();
        }
    }

    private enum Reason
    {
        Expired,
        Evicted,
        Superseded,
        Resynced,
    }

    public ReassemblyOptions Options => _options;

    public int MaxFrameBytes => _maxFrameBytes;

    public int FramesInFlight => _slots.Count(s => s.InUse);

    /// <summary>What this reassembler holds now and may hold.</summary>
    public ReassemblyBudget Budget => _budget;

    /// <summary>
    /// A session's default cap: what one frame of <paramref name="maxFrameBytes"/> needs with parity at the smallest group
    /// (2), so a session can always complete the largest frame but not hold several frames that only claim to be large.
    /// </summary>
    public static long SessionCapFor(int maxFrameBytes)
    {
        int dataCount = UdpWire.DataCount(maxFrameBytes);
        int parityCount = UdpWire.ParityCount(dataCount, 2);
        int chunks = ReassemblyChunks.CountFor(dataCount + parityCount);
        return ((long)chunks * ReassemblyChunks.Bytes) + Bookkeeping(dataCount + parityCount, parityCount, chunks);
    }

    /// <summary>The newest frame id everything up to which is finished (delivered or dropped), if any.</summary>
    public bool TryGetFinished(out uint frameId)
    {
        frameId = _floor;
        return _haveFloor;
    }

    /// <summary>Frames given up for good so far (deadline, in-flight cap, a newer one first, ids never seen): REPORT's frames_lost, summed.</summary>
    public long FramesLost => _framesLost;

    public ReassemblyStats Stats => new()
    {
        FragmentsReceived = _fragmentsReceived,
        Duplicates = _duplicates,
        Recovered = _recovered,
        RetransmittedArrivals = _retransmitted,
        FragmentsExpected = _fragmentsExpected,
        FragmentsLost = _fragmentsLost,
        FramesCompleted = _framesCompleted,
        FramesLost = _framesLost,
        FramesExpired = _framesExpired,
        FramesEvicted = _framesEvicted,
        FramesSuperseded = _framesSuperseded,
        FramesUnseen = _framesUnseen,
        FramesResynced = _framesResynced,
        Malformed = _malformed,
        Inconsistent = _inconsistent,
        TooLarge = _tooLarge,
        OverBudget = _overBudget,
        Late = _late,
        FarFuture = _farFuture,
        Resyncs = _resyncs,
        FragmentsNacked = _fragmentsNacked,
    };

    /// <summary>
    /// Takes one datagram. When it completes a frame the result is <see cref="ReassemblyResult.Completed"/> and
    /// <paramref name="completed"/> is the frame, which the caller disposes; every older incomplete frame is dropped.
    /// Never throws on the datagram's content.
    /// </summary>
    public ReassemblyResult Accept(ReadOnlySpan<byte> datagram, long nowMicros, out CompletedFrame? completed)
    {
        completed = null;
        switch (UdpWire.ReadFragment(datagram, _maxFrameBytes, out FragmentHeader header, out ReadOnlySpan<byte> payload))
        {
            case FragmentReadResult.Malformed:
                _malformed++;
                return ReassemblyResult.Malformed;
            case FragmentReadResult.TooLarge:
                _tooLarge++;
                return ReassemblyResult.TooLarge;
        }

        Expire(nowMicros);
        Slot? slot = Find(header.FrameId);
        if (slot is null)
        {
            ReassemblyResult? refused = Admit(header.FrameId, nowMicros);
            if (refused is { } result)
            {
                return result;
            }

            slot = Open(header, nowMicros, out ReassemblyResult refusal);
            if (slot is null)
            {
                if (refusal == ReassemblyResult.Late)
                {
                    _late++;
                }
                else
                {
                    _overBudget++;
                }

                return refusal;
            }
        }
        else if (!slot.Matches(header))
        {
            _inconsistent++;
            return ReassemblyResult.Inconsistent;
        }

        return Store(slot, header, payload, nowMicros, out completed);
    }

    /// <summary>Drops the incomplete frames whose deadline has passed; returns how many.</summary>
    public int Expire(long nowMicros)
    {
        int expired = 0;
        while (true)
        {
            Slot? oldest = null;
            foreach (Slot slot in _slots)
            {
                if (slot.InUse && nowMicros - slot.FirstMicros >= _options.DeadlineMicros
                    && (oldest is null || Diff(slot.FrameId, oldest.FrameId) < 0))
                {
                    oldest = slot;
                }
            }

            if (oldest is null)
            {
                return expired;
            }

            Drop(oldest, Reason.Expired);
            expired++;
        }
    }

    /// <summary>
    /// Adds the NACKs due now to <paramref name="into"/> and returns how many it added. A frame is NACKed once a newer
    /// frame's fragment has arrived or 5 ms after its last fragment, and again every 1.5 round trips, while a
    /// retransmission can still arrive before its deadline. Only data fragments that parity cannot rebuild are
    /// listed: in a group with its parity, all missing but the last; without it, all missing. Nothing when recovery
    /// is off. Per frame and round at most one NACK's worth (574) or twice the fragments that arrived, lowest first: a
    /// header that claims thousands of fragments must not buy a flood of NACKs with one datagram.
    /// <paramref name="rttMicros"/> is the measured round trip, 0 if unknown.
    /// </summary>
    public int CollectNacks(long nowMicros, long rttMicros, List<UdpNack> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        if (!_options.RecoveryEnabled)
        {
            return 0;
        }

        long rtt = Math.Max(0, rttMicros);
        long repeat = Math.Max(_options.MinNackRepeatMicros, (long)(_options.NackRepeatRttFactor * (rtt > 0 ? rtt : _options.UnknownRttMicros)));
        int added = 0;
        int count = OrderInFlight();
        for (int s = 0; s < count; s++)
        {
            Slot slot = _ordered[s];
            if (nowMicros + rtt >= slot.FirstMicros + _options.DeadlineMicros)
            {
                continue;
            }

            bool due = slot.EverNacked
                ? nowMicros - slot.LastNackMicros >= repeat
                : Diff(_newest, slot.FrameId) > 0 || nowMicros - slot.LastMicros >= _options.NackDelayMicros;
            if (!due)
            {
                continue;
            }

            CollectUnrecoverable(slot);
            for (int offset = 0; offset < _nackScratch.Count; offset += UdpWire.MaxNackCount)
            {
                ushort[] indexes = new ushort[Math.Min(UdpWire.MaxNackCount, _nackScratch.Count - offset)];
                _nackScratch.CopyTo(offset, indexes, 0, indexes.Length);
                into.Add(new UdpNack(slot.FrameId, indexes));
                added++;
            }

            foreach (ushort index in _nackScratch)
            {
                slot.Flags[index] |= Nacked;
            }

            _fragmentsNacked += _nackScratch.Count;
            slot.EverNacked = true;
            slot.LastNackMicros = nowMicros;
        }

        return added;
    }

    /// <summary>The REPORT figures since the previous call, with the caller's round trip (0 = unknown).</summary>
    public UdpReport TakeReport(uint rttMicros)
    {
        var report = new UdpReport(
            Delta(_fragmentsExpected, ref _reportedExpected),
            Delta(_fragmentsLost, ref _reportedLost),
            Delta(_framesCompleted, ref _reportedCompleted),
            Delta(_framesLost, ref _reportedFramesLost),
            rttMicros);
        return report;

        static uint Delta(long total, ref long reported)
        {
            long delta = total - reported;
            reported = total;
            return (uint)Math.Min(delta, uint.MaxValue);
        }
    }

    public void Dispose()
    {
        foreach (Slot slot in _slots)
        {
            if (slot.InUse)
            {
                Release(slot);
            }
        }

        // Every reservation is paired with a release above; this only makes sure the shared budget can never leak.
        _budget.ReleaseAll();
    }

    /// <summary>Serial-number arithmetic (frame ids wrap): positive when <paramref name="a"/> is newer than <paramref name="b"/>.</summary>
    private static int Diff(uint a, uint b) => (int)(a - b);

    private Slot? Find(uint frameId)
    {
        foreach (Slot slot in _slots)
        {
            if (slot.InUse && slot.FrameId == frameId)
            {
                return slot;
            }
        }

        return null;
    }

    /// <summary>Decides whether a frame id not in reassembly may start a frame; null = yes.</summary>
    private ReassemblyResult? Admit(uint frameId, long nowMicros)
    {
        if (!_started)
        {
            _started = true;
            _newest = frameId;
            _lastProgressMicros = nowMicros;
            return null;
        }

        long ahead = Diff(frameId, _newest);
        if (Math.Abs(ahead) > _options.FarFutureWindow)
        {
            if (nowMicros - _lastProgressMicros >= _options.ResyncMicros)
            {
                Resync(frameId, nowMicros);
                return null;
            }

            if (ahead > 0)
            {
                _farFuture++;
                return ReassemblyResult.FarFuture;
            }

            _late++;
            return ReassemblyResult.Late;
        }

        if (_haveFloor && Diff(frameId, _floor) <= 0)
        {
            _late++;
            return ReassemblyResult.Late;
        }

        if (ahead > 0)
        {
            _newest = frameId;
        }

        return null;
    }

    /// <summary>
    /// Starts a frame in a free slot, dropping the oldest incomplete one if all are taken; null (with the reason) if the
    /// new one is the oldest or the budget cannot take the frame's bookkeeping.
    /// </summary>
    private Slot? Open(in FragmentHeader header, long nowMicros, out ReassemblyResult refusal)
    {
        refusal = ReassemblyResult.Late;
        Slot? free = null;
        Slot? oldest = null;
        foreach (Slot slot in _slots)
        {
            if (!slot.InUse)
            {
                free ??= slot;
            }
            else if (oldest is null || Diff(slot.FrameId, oldest.FrameId) < 0)
            {
                oldest = slot;
            }
        }

        if (free is null)
        {
            if (Diff(header.FrameId, oldest!.FrameId) < 0)
            {
                return null;
            }

            Drop(oldest, Reason.Evicted);
            free = oldest;
        }

        int dataCount = header.DataCount;
        int parityCount = header.ParityCount;
        int chunks = ReassemblyChunks.CountFor(dataCount + parityCount);

        // The total was checked against the cap by the reader; the bookkeeping is all that is allocated before data arrives.
        long bookkeeping = Bookkeeping(dataCount + parityCount, parityCount, chunks);
        if (!_budget.TryReserve(bookkeeping))
        {
            refusal = ReassemblyResult.OverBudget;
            return null;
        }

        free.Reserved = bookkeeping;
        free.Chunks = ArrayPool<byte[]?>.Shared.Rent(chunks); // entries are nulled on release
        free.Flags = ArrayPool<byte>.Shared.Rent(dataCount + parityCount);
        Array.Clear(free.Flags, 0, dataCount + parityCount);
        if (parityCount > 0)
        {
            free.GroupMissing = ArrayPool<int>.Shared.Rent(parityCount);
            for (int g = 0; g < parityCount; g++)
            {
                free.GroupMissing[g] = Math.Min(header.Group, dataCount - (g * header.Group));
            }
        }

        free.InUse = true;
        free.Header = header;
        free.MissingData = dataCount;
        free.OriginalData = 0;
        free.Arrived = 0;
        free.FirstMicros = nowMicros;
        free.LastMicros = nowMicros;
        free.EverNacked = false;
        free.LastNackMicros = 0;
        return free;
    }

    private ReassemblyResult Store(Slot slot, in FragmentHeader header, ReadOnlySpan<byte> payload, long nowMicros, out CompletedFrame? completed)
    {
        completed = null;
        int index = header.Index;
        byte flags = slot.Flags[index];
        if ((flags & Received) != 0)
        {
            _duplicates++;
            return ReassemblyResult.Duplicate;
        }

        if (!TryTakeChunk(slot, index))
        {
            _overBudget++;
            return ReassemblyResult.OverBudget;
        }

        _fragmentsReceived++;
        slot.Arrived++;
        slot.LastMicros = nowMicros;
        slot.Flags[index] = (byte)(flags | Received);
        payload.CopyTo(FragmentSpan(slot, index, payload.Length));
        int dataCount = slot.DataCount;
        int group;
        if (index < dataCount)
        {
            if ((flags & Nacked) != 0)
            {
                _retransmitted++;
            }
            else
            {
                slot.OriginalData++;
            }

            slot.MissingData--;
            group = slot.Group == 0 ? -1 : index / slot.Group;
            if (group >= 0)
            {
                slot.GroupMissing[group]--;
            }
        }
        else
        {
            group = index - dataCount;
        }

        if (group >= 0)
        {
            TryRebuild(slot, group);
        }

        if (slot.MissingData > 0)
        {
            return ReassemblyResult.Accepted;
        }

        completed = Deliver(slot, nowMicros);
        return ReassemblyResult.Completed;
    }

    /// <summary>Rebuilds the one missing data fragment of a group once the rest of the group and its parity are there.</summary>
    private void TryRebuild(Slot slot, int group)
    {
        int dataCount = slot.DataCount;
        if (slot.GroupMissing[group] != 1 || (slot.Flags[dataCount + group] & Received) == 0)
        {
            return;
        }

        int first = group * slot.Group;
        int end = Math.Min(first + slot.Group, dataCount);
        int missing = first;
        while ((slot.Flags[missing] & Received) != 0)
        {
            missing++;
        }

        long total = slot.Header.TotalLength;
        int length = UdpWire.ParityPayloadLength(total, slot.Group, group);

        // The missing one's chunk may not exist yet; without room for it the frame waits (and expires if it must).
        if (!TryTakeChunk(slot, missing))
        {
            _overBudget++;
            return;
        }

        // Every slot has room for a full payload, so the parity's length fits even where the missing one is shorter.
        Span<byte> target = FragmentSpan(slot, missing, length);
        FragmentSpan(slot, dataCount + group, length).CopyTo(target);
        for (int i = first; i < end; i++)
        {
            if (i != missing)
            {
                XorParity.XorInto(target, FragmentSpan(slot, i, UdpWire.DataPayloadLength(total, i)));
            }
        }

        slot.Flags[missing] |= Received | Rebuilt;
        slot.GroupMissing[group] = 0;
        slot.MissingData--;
        _recovered++;
    }

    private CompletedFrame Deliver(Slot slot, long nowMicros)
    {
        // Data chunks hold the picture contiguously (stride = payload); each exists, as every data fragment is there.
        int total = (int)slot.Header.TotalLength;
        byte[] picture = FrameBufferPool.Shared.Rent(total);
        for (int offset = 0, c = 0; offset < total; offset += ReassemblyChunks.Bytes, c++)
        {
            slot.Chunks[c]!.AsSpan(0, Math.Min(ReassemblyChunks.Bytes, total - offset)).CopyTo(picture.AsSpan(offset));
        }

        var frame = new CompletedFrame(picture, slot.FrameId, slot.Header.ToVideoFrameHeader(), total);
        uint frameId = slot.FrameId;
        CountFragments(slot);
        _framesCompleted++;
        Release(slot);
        RaiseFloor(frameId);
        _lastProgressMicros = nowMicros;
        return frame;
    }

    /// <summary>Drops an incomplete frame, and with it every older one (nothing older can be delivered after it).</summary>
    private void Drop(Slot slot, Reason reason)
    {
        uint frameId = slot.FrameId;
        Finish(slot, reason);
        RaiseFloor(frameId);
    }

    private void Finish(Slot slot, Reason reason)
    {
        CountFragments(slot);
        _framesLost++;
        switch (reason)
        {
            case Reason.Expired:
                _framesExpired++;
                break;
            case Reason.Evicted:
                _framesEvicted++;
                break;
            case Reason.Superseded:
                _framesSuperseded++;
                break;
            case Reason.Resynced:
                _framesResynced++;
                break;
        }

        Release(slot);
    }

    /// <summary>
    /// Everything up to <paramref name="frameId"/> is now finished: older frames in reassembly are dropped and frame ids
    /// skipped without a single fragment count as lost (one fragment each: a lower bound, the real size is unknown).
    /// </summary>
    private void RaiseFloor(uint frameId)
    {
        if (_haveFloor && Diff(frameId, _floor) <= 0)
        {
            return;
        }

        long seenBetween = 0;
        foreach (Slot slot in _slots)
        {
            if (slot.InUse && Diff(slot.FrameId, frameId) < 0)
            {
                if (_haveFloor && Diff(slot.FrameId, _floor) > 0)
                {
                    seenBetween++;
                }

                Finish(slot, Reason.Superseded);
            }
        }

        if (_haveFloor)
        {
            long unseen = Math.Clamp((long)Diff(frameId, _floor) - 1 - seenBetween, 0, _options.FarFutureWindow);
            _framesUnseen += unseen;
            _framesLost += unseen;
            _fragmentsExpected += unseen;
            _fragmentsLost += unseen;
        }

        _floor = frameId;
        _haveFloor = true;
    }

    private void Resync(uint frameId, long nowMicros)
    {
        foreach (Slot slot in _slots)
        {
            if (slot.InUse)
            {
                Finish(slot, Reason.Resynced);
            }
        }

        _haveFloor = false;
        _newest = frameId;
        _lastProgressMicros = nowMicros;
        _resyncs++;
    }

    /// <summary>Loss is measured on data fragments: a frame completed before its last parity arrived must not look lossy.</summary>
    private void CountFragments(Slot slot)
    {
        _fragmentsExpected += slot.DataCount;
        _fragmentsLost += slot.DataCount - slot.OriginalData;
    }

    private void CollectUnrecoverable(Slot slot)
    {
        _nackScratch.Clear();
        int dataCount = slot.DataCount;
        int limit = Math.Max(UdpWire.MaxNackCount, 2 * slot.Arrived);
        if (slot.Group == 0)
        {
            for (int i = 0; i < dataCount && _nackScratch.Count < limit; i++)
            {
                if ((slot.Flags[i] & Received) == 0)
                {
                    _nackScratch.Add((ushort)i);
                }
            }

            return;
        }

        for (int g = 0; g < slot.ParityCount && _nackScratch.Count < limit; g++)
        {
            int missing = slot.GroupMissing[g];
            if (missing == 0)
            {
                continue;
            }

            // With the parity here, the last missing one will be rebuilt once the others are back.
            int wanted = (slot.Flags[dataCount + g] & Received) != 0 ? missing - 1 : missing;
            int end = Math.Min((g * slot.Group) + slot.Group, dataCount);
            for (int i = g * slot.Group; i < end && wanted > 0 && _nackScratch.Count < limit; i++)
            {
                if ((slot.Flags[i] & Received) == 0)
                {
                    _nackScratch.Add((ushort)i);
                    wanted--;
                }
            }
        }
    }

    /// <summary>Fills <see cref="_ordered"/> with the frames in reassembly, oldest first; returns how many.</summary>
    private int OrderInFlight()
    {
        int count = 0;
        foreach (Slot slot in _slots)
        {
            if (!slot.InUse)
            {
                continue;
            }

            int at = count++;
            while (at > 0 && Diff(_ordered[at - 1].FrameId, slot.FrameId) > 0)
            {
                _ordered[at] = _ordered[at - 1];
                at--;
            }

            _ordered[at] = slot;
        }

        return count;
    }

    /// <summary>Flags, per-group counts and the chunk table: what a frame costs before any data is stored.</summary>
    private static long Bookkeeping(int fragments, int parityCount, int chunks) => fragments + (4L * parityCount) + (8L * chunks);

    private static Span<byte> FragmentSpan(Slot slot, int index, int length) =>
        slot.Chunks[index / ReassemblyChunks.Fragments].AsSpan(index % ReassemblyChunks.Fragments * Stride, length);

    /// <summary>Makes sure the chunk of fragment <paramref name="index"/> exists; false when the budget cannot take it.</summary>
    private bool TryTakeChunk(Slot slot, int index)
    {
        int c = index / ReassemblyChunks.Fragments;
        if (slot.Chunks[c] is not null)
        {
            return true;
        }

        if (!_budget.TryReserve(ReassemblyChunks.Bytes))
        {
            return false;
        }

        slot.Reserved += ReassemblyChunks.Bytes;
        slot.Chunks[c] = ReassemblyChunks.Rent();
        return true;
    }

    private void Release(Slot slot)
    {
        for (int c = 0; c < slot.Chunks.Length; c++)
        {
            if (slot.Chunks[c] is { } chunk)
            {
                ReassemblyChunks.Return(chunk);
                slot.Chunks[c] = null;
            }
        }

        _budget.Release(slot.Reserved);
        slot.Reserved = 0;

        if (slot.Flags.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(slot.Flags);
        }

        if (slot.GroupMissing.Length > 0)
        {
            ArrayPool<int>.Shared.Return(slot.GroupMissing);
        }

        if (slot.Chunks.Length > 0)
        {
            ArrayPool<byte[]?>.Shared.Return(slot.Chunks);
        }

        slot.Chunks = [];
        slot.Flags = [];
        slot.GroupMissing = [];
        slot.InUse = false;
    }

    /// <summary>One frame in reassembly; the slots are reused, their arrays are pooled.</summary>
    private sealed class Slot
    {
        public bool InUse { get; set; }

        public FragmentHeader Header { get; set; }

        /// <summary>The fragments' payloads, <see cref="ReassemblyChunks.Fragments"/> per chunk; a chunk exists once one of its fragments arrived.</summary>
        public byte[]?[] Chunks { get; set; } = [];

        /// <summary>Bytes reserved from the budget for this frame (bookkeeping and chunks).</summary>
        public long Reserved { get; set; }

        /// <summary>Per fragment index: <see cref="Received"/>, <see cref="Nacked"/>, <see cref="Rebuilt"/>.</summary>
        public byte[] Flags { get; set; } = [];

        /// <summary>Data fragments still missing, per parity group.</summary>
        public int[] GroupMissing { get; set; } = [];

        public int MissingData { get; set; }

        /// <summary>Fragments stored (data and parity, not rebuilt ones): what bounds the NACKs for this frame.</summary>
        public int Arrived { get; set; }

        /// <summary>Data fragments that arrived before any NACK for them: the first transmission.</summary>
        public int OriginalData { get; set; }

        public long FirstMicros { get; set; }

        public long LastMicros { get; set; }

        public bool EverNacked { get; set; }

        public long LastNackMicros { get; set; }

        public uint FrameId => Header.FrameId;

        public int DataCount => Header.DataCount;

        public int Group => Header.Group;

        public int ParityCount => Header.ParityCount;

        /// <summary>Whether a fragment describes the same frame as the first one did.</summary>
        public bool Matches(in FragmentHeader other) =>
            other.DataCount == Header.DataCount && other.Group == Header.Group && other.Codec == Header.Codec
            && other.Width == Header.Width && other.Height == Header.Height && other.TotalLength == Header.TotalLength
            && other.Sequence == Header.Sequence && other.CaptureMicros == Header.CaptureMicros;
    }
}
