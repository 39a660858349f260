namespace SocketCam.Codecs.H264;

/// <summary>
/// Tells whether an access unit's references are all there, from its slice header's <c>frame_num</c> (H.264 7.4.3): after
/// a reference picture numbered n, the next picture is numbered n or n + 1 (mod MaxFrameNum), and an IDR starts at 0. A
/// larger step means a reference picture never reached the decoder. libavcodec conceals that silently, so the decoder
/// counts it itself. Uses <see cref="AnnexB"/>'s NAL walker and SPS reader; a stream whose SPS or slice header cannot be
/// read is not checked (the decoder itself reports such streams).
/// </summary>
internal sealed class ReferenceCheck
{
    private SpsInfo? _sps;
    private int _previous = -1;

    /// <summary>Looks at one access unit; false when a reference it needs is missing.</summary>
    public bool Check(ReadOnlySpan<byte> accessUnit)
    {
        foreach (NalUnit nal in AnnexB.NalUnits(accessUnit))
        {
            if (nal.Length < 2)
            {
                continue;
            }

            ReadOnlySpan<byte> unit = accessUnit.Slice(nal.Offset, nal.Length);
            try
            {
                if (nal.Type == AnnexB.Sps)
                {
                    _sps = AnnexB.ReadSps(unit);
                }
                else if (AnnexB.IsSlice(nal.Type) && _sps is { } sps)
                {
                    return Step(AnnexB.ReadFrameNum(unit, sps), nal.Type == AnnexB.IdrSlice, refIdc: (unit[0] >> 5) & 3, 1 << sps.Log2MaxFrameNum);
                }
            }
            catch (InvalidDataException)
            {
                return true; // unreadable: not ours to judge
            }
        }

        return true;
    }

    /// <summary>Forget the stream (the decoder was flushed).</summary>
    public void Reset() => _previous = -1;

    /// <summary>The first slice speaks for the picture.</summary>
    private bool Step(int frameNum, bool idr, int refIdc, int max)
    {
        if (idr)
        {
            _previous = 0;
            return true;
        }

        if (_previous < 0)
        {
            return true; // never saw a keyframe: the decoder waits for one, nothing to compare with
        }

        bool ok = frameNum == _previous || frameNum == (_previous + 1) % max;
        if (refIdc != 0)
        {
            _previous = frameNum;
        }

        return ok;
    }
}
