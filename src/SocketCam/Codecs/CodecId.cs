namespace SocketCam.Codecs;

/// <summary>How a video frame's payload is encoded. Values are on the wire (docs/PROTOCOL.md).</summary>
public enum CodecId : byte
{
    /// <summary>Baseline JPEG (JFIF) as produced by libjpeg-turbo.</summary>
    Jpeg = 1,

    /// <summary>Uncompressed BGR24, rows packed, top row first (what the seed tutorials send).</summary>
    RawBgr24 = 2,
}

/// <summary>JPEG chroma subsampling; values match TurboJPEG's TJSAMP_*.</summary>
public enum ChromaSubsampling
{
    S444 = 0,
    S422 = 1,
    S420 = 2,
    Gray = 3,
}
