using SocketCam.Media;
using SocketCam.Codecs.H264;
using SocketCam.Codecs.TurboJpeg;

namespace SocketCam.Codecs;

/// <summary>Creates encoders and decoders by codec id.</summary>
internal static class CodecFactory
{
    /// <exception cref="Diagnostics.NativeDependencyException">The codec's library (libjpeg-turbo, libx264) is not installed.</exception>
    public static IFrameEncoder CreateEncoder(CodecId codec, JpegOptions? jpegOptions = null, H264Options? h264Options = null, double fps = 30)
    {
        switch (codec)
        {
            case CodecId.H264:
                TurboJpegLibrary.EnsureAvailable(); // BGR sources are converted to I420 with it
                return new X264Encoder(h264Options, fps);
            case CodecId.Jpeg:
                TurboJpegLibrary.EnsureAvailable();
                return new JpegEncoder(jpegOptions);
            case CodecId.RawBgr24:
                return new RawEncoder();
            default:
                throw new ArgumentOutOfRangeException(nameof(codec), codec, "Unknown codec.");
        }
    }

    /// <exception cref="Diagnostics.NativeDependencyException">The codec's library (libjpeg-turbo, libavcodec) is not installed.</exception>
    public static IFrameDecoder CreateDecoder(CodecId codec)
    {
        switch (codec)
        {
            case CodecId.H264:
                TurboJpegLibrary.EnsureAvailable();
                return new H264Decoder();
            case CodecId.Jpeg:
                TurboJpegLibrary.EnsureAvailable();
                return new JpegDecoder();
            case CodecId.RawBgr24:
                return new RawDecoder();
            default:
                throw new ArgumentOutOfRangeException(nameof(codec), codec, "Unknown codec.");
        }
    }
}
