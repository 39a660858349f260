using System.CommandLine;
using SocketCam.Codecs;
using SocketCam.Media;
using SocketCam.Protocol;

namespace SocketCam.Cli.Commands;

/// <summary>Options shared by several commands, so each is spelled and documented once.</summary>
internal static class CommonOptions
{
    public static Option<string> Room() => new("--room", "-r")
    {
        Description = "Room (stream) name: letters, digits, . _ -",
        DefaultValueFactory = _ => RoomName.Default,
        CustomParser = r => RoomName.Validate(r.Tokens.Count > 0 ? r.Tokens[0].Value : RoomName.Default),
    };

    public static Option<string?> Token() => new("--token")
    {
        Description = "Shared secret: the server requires it, clients present it",
    };

    public static Option<FrameSize> Size(string defaultSize = "1280x720") => new("--size", "-s")
    {
        Description = "Frame size WxH (or 480p, 720p, 1080p)",
        DefaultValueFactory = _ => FrameSize.Parse(defaultSize),
        CustomParser = r => FrameSize.Parse(r.Tokens[0].Value),
    };

    public static Option<double> Fps(double defaultFps = 30) => new("--fps")
    {
        Description = "Frames per second; 0 = unpaced, as fast as viewers take frames",
        DefaultValueFactory = _ => defaultFps,
    };

    public static Option<CodecId> Codec() => new("--codec", "-c")
    {
        Description = "jpeg (libjpeg-turbo) or raw (uncompressed BGR, what the seed tutorials send)",
        DefaultValueFactory = _ => CodecId.Jpeg,
        CustomParser = r => ParseCodec(r.Tokens[0].Value),
    };

    public static Option<int> Quality() => new("--quality", "-q")
    {
        Description = "JPEG quality 1-100",
        DefaultValueFactory = _ => 80,
    };

    public static Option<string> Subsampling() => new("--subsampling")
    {
        Description = "JPEG chroma subsampling: 420, 422, 444 or gray",
        DefaultValueFactory = _ => "420",
    };

    public static Option<string> Source() => new("--source")
    {
        Description = "Where frames come from: pattern (built-in moving test pattern)",
        DefaultValueFactory = _ => "pattern",
    };

    public static Option<double> Seconds(string what) => new("--seconds")
    {
        Description = $"Stop after this many seconds ({what})",
    };

    public static Option<bool> Json() => new("--json")
    {
        Description = "Print a JSON summary as the last line of standard output",
    };

    public static Option<string> LogLevel() => new("--log-level")
    {
        Description = "Log detail: trace, debug, information, warning, error",
        DefaultValueFactory = _ => "information",
    };

    public static CodecId ParseCodec(string text) => text.ToLowerInvariant() switch
    {
        "jpeg" or "jpg" or "mjpeg" => CodecId.Jpeg,
        "raw" or "bgr" or "bgr24" => CodecId.RawBgr24,
        _ => throw new ArgumentException($"Unknown codec '{text}': use jpeg or raw."),
    };

    public static JpegOptions Jpeg(int quality, string subsampling) => new()
    {
        Quality = quality,
        Subsampling = subsampling.ToLowerInvariant() switch
        {
            "420" or "4:2:0" => ChromaSubsampling.S420,
            "422" or "4:2:2" => ChromaSubsampling.S422,
            "444" or "4:4:4" => ChromaSubsampling.S444,
            "gray" or "grey" => ChromaSubsampling.Gray,
            _ => throw new ArgumentException($"Unknown subsampling '{subsampling}': use 420, 422, 444 or gray."),
        },
    };

    public static string CodecName(CodecId codec) => codec == CodecId.Jpeg ? "jpeg" : "raw";
}
