using SocketCam.Codecs;
using SocketCam.Media;
using SocketCam.Protocol;

namespace SocketCam.Hub;

/// <summary>
/// What the hub checks in a publisher's frame before anyone else sees it (docs/PROTOCOL.md §1.4 and §4.6.4 step 3):
/// a JPEG's structure and size (by walking its markers, no decoding), a raw picture's exact length, a PCM packet's
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
}
