namespace SocketCam.Codecs;

/// <summary>JPEG chroma subsampling; values match TurboJPEG's TJSAMP_*.</summary>
public enum ChromaSubsampling
{
    S444 = 0,
    S422 = 1,
    S420 = 2,
    Gray = 3,
}
