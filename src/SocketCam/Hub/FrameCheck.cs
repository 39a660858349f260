using SocketCam.Codecs;
using SocketCam.Codecs.H264;
using SocketCam.Media;
using SocketCam.Protocol;

namespace SocketCam.Hub;

/// <summary>
/// What the hub checks in a publisher's frame before anyone else sees it (docs/PROTOCOL.md §1.4 and §4.6.4 step 3):
/// a JPEG's structure and size (by walking its markers, no decoding), an H.264 access unit's NAL units and flags, a raw picture's exact length, a PCM packet's
/// length. Used for v1 VIDEO_FRAMEs and v2 FRAMEs alike.
/// </summary>
internal static class FrameCheck
{
    /// <exception cref="ProtocolException">bad-frame, saying what is wrong.</exception>
    public static void Validate(MediaFrame frame, int channels = 0)
    {
        FrameInfo h = frame.Header;
        switch (h.Codec)
        {
            case CodecId.Jpeg:
                if (!JpegStructure.TryValidate(frame.Data, out int width, out int height, out string? error))
                {
                    throw new ProtocolException(ErrorCode.BadFrame, $"Corrupt JPEG in frame {h.Sequence}: {error}");
                }

                if (width != h.Width || height != h.Height)
                {
                    throw new ProtocolException(ErrorCode.BadFrame, $"Frame {h.Sequence} says {h.Width}x{h.Height} but its JPEG is {width}x{height}.");
                }

                break;
            case CodecId.H264:
                CheckH264(frame);
                break;
            case CodecId.RawBgr24:
                long expected = (long)h.Width * h.Height * 3;
                if (h.Width < 1 || h.Height < 1 || frame.DataLength != expected)
                {
                    throw new ProtocolException(ErrorCode.BadFrame, $"Raw {h.Width}x{h.Height} frame must be {expected} bytes, got {frame.DataLength}.");
                }

                break;
            case CodecId.PcmS16le:
                long pcm = (long)h.Width * Math.Max(1, channels) * 2;
                if (h.Width < 1 || frame.DataLength != pcm)
                {
                    throw new ProtocolException(ErrorCode.BadFrame, $"PCM packet of {h.Width} samples × {channels} channels must be {pcm} bytes, got {frame.DataLength}.");
                }

                break;
            case CodecId.Opus:
                if (frame.DataLength < 1)
                {
                    throw new ProtocolException(ErrorCode.BadFrame, "Empty Opus packet.");
                }

                break;
        }

        if (h.Kind == TrackKind.Video && (h.Width is < 1 or > FrameLimits.MaxDimension || h.Height is < 1 or > FrameLimits.MaxDimension))
        {
            throw new ProtocolException(ErrorCode.Malformed, $"Frame size {h.Width}x{h.Height} is outside 1..{FrameLimits.MaxDimension}.");
        }
    }

    /// <summary>
    /// An H.264 access unit's structure (Annex B NAL units, an SPS and a PPS before an IDR) and its flags: `keyframe` on
    /// every IDR and only there (Inspect wants SPS and PPS before an IDR); an SPS's size equal to the frame's.
    /// </summary>
    private static void CheckH264(MediaFrame frame)
    {
        FrameInfo h = frame.Header;
        H264AccessUnitInfo info;
        try
        {
            info = AnnexB.Inspect(frame.Data);
        }
        catch (InvalidDataException ex)
        {
            throw new ProtocolException(ErrorCode.BadFrame, $"Corrupt H.264 in frame {h.Sequence}: {ex.Message}");
        }

        if (info.IsIdr && !h.IsKeyframe)
        {
            throw new ProtocolException(ErrorCode.BadFrame, $"Frame {h.Sequence} is an IDR picture but is not flagged as a keyframe.");
        }

        if (h.IsKeyframe && !info.IsIdr)
        {
            // Only an IDR with its SPS and PPS lets a decoder start: a flagged P picture would end a viewer's wait for a
            // keyframe with a frame whose references it never had.
            throw new ProtocolException(ErrorCode.BadFrame, $"Frame {h.Sequence} is flagged as a keyframe but is not an IDR picture with its SPS and PPS.");
        }

        if (info.Width > 0 && (info.Width != h.Width || info.Height != h.Height))
        {
            throw new ProtocolException(ErrorCode.BadFrame, $"Frame {h.Sequence} says {h.Width}x{h.Height} but its SPS is {info.Width}x{info.Height}.");
        }
    }
}
