using SocketCam.Codecs;
using SocketCam.Media;
using SocketCam.Protocol;

namespace SocketCam.Hub;

/// <summary>Encodes a captured frame straight into a pooled wire message (no intermediate copy).</summary>
internal static class FrameEncoding
{
    public static SharedFrame Encode(IFrameEncoder encoder, VideoFrame frame)
    {
        SharedFrame shared = SharedFrame.Rent(encoder.MaxEncodedSize(frame.Width, frame.Height));
        try
        {
            int length = encoder.Encode(frame, shared.WritableData);
            shared.Complete(new VideoFrameHeader(encoder.Codec, frame.Width, frame.Height, frame.Sequence, frame.CaptureMicros), length);
            return shared;
        }
        catch
        {
            shared.Release();
            throw;
        }
    }
}
