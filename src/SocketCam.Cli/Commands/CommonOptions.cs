using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text;
using SocketCam.Codecs;
using SocketCam.Media;
using Microsoft.Extensions.Logging;
using SocketCam.Protocol;
using SocketCam.Sources;

namespace SocketCam.Cli.Commands;

/// <summary>Options shared by several commands, so each is spelled and documented once.</summary>
internal static class CommonOptions
{
    public static Option<bool> NoRecovery() => new("--no-recovery")
    {
        Description = "udp:// only: no parity and no resends, so lost datagrams lose their frames (to compare; see docs/PROTOCOL.md §2.0)",
    };

    public static Option<string> Room() => new("--room", "-r")
    {
        Description = "Room (stream) name: letters, digits, . _ -",
        DefaultValueFactory = _ => RoomName.Default,
        CustomParser = r =>
        {
            string name = r.Tokens.Count > 0 ? r.Tokens[0].Value : RoomName.Default;
            if (!RoomName.IsValid(name))
            {
                // Parsers run inside Parse, outside CliHost: report, never throw.
                r.AddError($"--room '{name}' is invalid: use 1-{ProtocolConstants.MaxRoomLength} characters from A-Z a-z 0-9 . _ -");
                return default!;
            }

            return name;
        },
    };

    public static Option<string?> Token()
    {
        var option = new Option<string?>("--token")
        {
            HelpName = "TOKEN",
            Description = "The token the hub asks for: the one serve printed (its shared secret) or a signed room token from `socketcam token`",
        };
        option.Validators.Add(r =>
        {
            string? token = r.GetValueOrDefault<string?>();
            if (token is not null && Encoding.UTF8.GetByteCount(token) > ProtocolV2.MaxTokenLength)
            {
                // Never echo the secret.
                r.AddError($"--token is too long: at most {ProtocolV2.MaxTokenLength} bytes in UTF-8.");
            }
        });
        return option;
    }

    public static Option<FrameSize> Size(string defaultSize = "1280x720") => new("--size", "-s")
    {
        Description = "Frame size WxH (or 480p, 720p, 1080p)",
        DefaultValueFactory = _ => FrameSize.Parse(defaultSize),
        CustomParser = r =>
        {
            string text = r.Tokens[0].Value;
            if (!FrameSize.TryParse(text, out FrameSize size))
            {
                r.AddError($"--size '{text}' is invalid: use WIDTHxHEIGHT (each 1..{FrameLimits.MaxDimension}, e.g. 1280x720) or 480p, 720p, 1080p.");
                return default;
            }

            return size;
        },
    };

    public static Option<double> Fps(double defaultFps = 30) => Range(
        new Option<double>("--fps")
        {
            Description = "Frames per second (0..1000); 0 = unpaced, as fast as viewers take frames",
            DefaultValueFactory = _ => defaultFps,
        },
        0,
        1000);

    public static Option<CodecId> Codec() => new("--codec", "-c")
    {
        HelpName = "jpeg|h264|raw",
        Description = "jpeg (libjpeg-turbo, every frame whole), h264 (libx264: about a tenth of the bytes) or raw (uncompressed BGR, as the tutorials send)",
        DefaultValueFactory = _ => CodecId.Jpeg,
        CustomParser = r =>
        {
            if (!TryParseCodec(r.Tokens[0].Value, out CodecId codec))
            {
                r.AddError($"Unknown codec '{r.Tokens[0].Value}': use jpeg, h264 or raw.");
                return default;
            }

            return codec;
        },
    };

    public static Option<int> Quality() => Range(
        new Option<int>("--quality", "-q")
        {
            Description = "JPEG quality 1-100",
            DefaultValueFactory = _ => 80,
        },
        1,
        100);

    /// <summary>The largest frame a hub accepts: 1 KiB .. 256 MiB.</summary>
    public static Option<int> MaxFrameBytes() => Range(
        new Option<int>("--max-frame-bytes")
        {
            Description = "Largest frame accepted from a publisher (1024..268435456 bytes)",
            DefaultValueFactory = _ => FrameLimits.DefaultMaxFrameBytes,
        },
        1024,
        256 * 1024 * 1024);

    public static Option<string> Subsampling() => new("--subsampling")
    {
        Description = "JPEG chroma subsampling: 420, 422, 444 or gray",
        DefaultValueFactory = _ => "420",
    };

    /// <summary>The --source kinds in brief; the README's Sources table has every form (seed+tcp:// too).</summary>
    public const string SourceKinds = "camera[:N], file:PATH, screen, image:PATH, lavfi:GRAPH, pattern, sync (README: Sources)";

    public static Option<string> Source(string defaultSpec = "pattern") => new("--source", "-i")
    {
        HelpName = "SOURCE",
        Description = SourceKinds + (defaultSpec == SourceFactory.AutoSpec ? "; auto: camera, else pattern" : ""),
        DefaultValueFactory = _ => defaultSpec,
    };

    /// <summary>--source given once or more (publish: each becomes a track).</summary>
    public static Option<string[]> Sources(string defaultSpec = "pattern") => new("--source", "-i")
    {
        HelpName = "SOURCE",
        Description = SourceKinds + "; repeat for several tracks",
        DefaultValueFactory = _ => [defaultSpec],
        AllowMultipleArgumentsPerToken = false,
        Arity = ArgumentArity.OneOrMore,
    };

    public static Option<bool> Loop() => new("--loop")
    {
        Description = "file: sources start again from the beginning when they end",
    };

    public static Option<bool> NoPassthrough() => new("--no-passthrough")
    {
        Description = "Decode a camera's (or lavfi graph's) JPEGs and re-encode them, instead of sending them as they are",
    };

    /// <summary>--seconds for view, publish and demo: finite, 0 &lt; s ≤ 1e6 when given.</summary>
    public static Option<double> Seconds(string what, double? defaultSeconds = null)
    {
        var option = new Option<double>("--seconds")
        {
            Description = $"Stop after this many seconds (up to 1e6; {what})",
        };
        if (defaultSeconds is { } d)
        {
            option.DefaultValueFactory = _ => d;
        }

        option.Validators.Add(r =>
        {
            if (r.Implicit)
            {
                return;
            }

            double value = r.GetValueOrDefault<double>();
            if (!double.IsFinite(value) || value is <= 0 or > 1e6)
            {
                r.AddError($"--seconds must be a number above 0 and at most 1000000, not '{Describe(r)}'.");
            }
        });
        return option;
    }

    /// <summary>Adds a range check (finite, min..max) that reports one error instead of throwing.</summary>
    public static Option<T> Range<T>(Option<T> option, double min, double max)
        where T : struct, IConvertible
    {
        option.Validators.Add(r =>
        {
            if (r.Implicit)
            {
                return;
            }

            double value = r.GetValueOrDefault<T>().ToDouble(CultureInfo.InvariantCulture);
            if (!double.IsFinite(value) || value < min || value > max)
            {
                r.AddError(string.Create(CultureInfo.InvariantCulture, $"{option.Name} must be between {min} and {max}, not '{Describe(r)}'."));
            }
        });
        return option;
    }

    private static string Describe(System.CommandLine.Parsing.OptionResult result) =>
        result.Tokens.Count > 0 ? result.Tokens[0].Value : "?";

    /// <summary>A size such as 500M or 2G (K, M, G, T are powers of 1024; a plain number is bytes); 0 allowed; null when not given.</summary>
    public static Option<long?> ByteSize(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "SIZE",
        CustomParser = r =>
        {
            string text = r.Tokens[0].Value;
            if (!TryParseByteSize(text, out long bytes))
            {
                r.AddError($"{name} '{text}' is invalid: use a size such as 500M or 2G (K, M, G, T = 1024^n bytes), or 0 for no limit.");
                return default;
            }

            return bytes;
        },
    };

    /// <summary>A duration such as 90s, 10m or 1h (a plain number is seconds); 0 allowed; null when not given.</summary>
    public static Option<TimeSpan?> Duration(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "DURATION",
        CustomParser = r =>
        {
            string text = r.Tokens[0].Value;
            if (!TryParseDuration(text, out TimeSpan duration))
            {
                r.AddError($"{name} '{text}' is invalid: use a duration such as 90s, 10m or 1h, or 0 for no limit.");
                return default;
            }

            return duration;
        },
    };

    public static bool TryParseByteSize(string text, out long bytes)
    {
        bytes = 0;
        string t = text.Trim();
        int unitAt = t.Length;
        while (unitAt > 0 && char.IsLetter(t[unitAt - 1]))
        {
            unitAt--;
        }

        long multiplier = t[unitAt..].ToUpperInvariant() switch
        {
            "" or "B" => 1,
            "K" or "KB" or "KIB" => 1L << 10,
            "M" or "MB" or "MIB" => 1L << 20,
            "G" or "GB" or "GIB" => 1L << 30,
            "T" or "TB" or "TIB" => 1L << 40,
            _ => -1,
        };
        if (multiplier < 0
            || !double.TryParse(t[..unitAt], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value)
            || !double.IsFinite(value) || value * multiplier > 1L << 50)
        {
            return false;
        }

        bytes = (long)(value * multiplier);
        return true;
    }

    public static bool TryParseDuration(string text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        string t = text.Trim().ToLowerInvariant();
        double unit = 1;
        if (t.Length > 0 && t[^1] is 's' or 'm' or 'h')
        {
            unit = t[^1] switch { 'm' => 60, 'h' => 3600, _ => 1 };
            t = t[..^1];
        }

        if (!double.TryParse(t, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value)
            || !double.IsFinite(value) || value * unit > 1e9)
        {
            return false;
        }

        duration = TimeSpan.FromSeconds(value * unit);
        return true;
    }

    /// <summary>A bit rate such as 8M, 500k or 2.5G (SI: k, M, G = 1000^n bits per second); a plain number is bits per second.</summary>
    public static bool TryParseBitrate(string text, out double bitsPerSecond)
    {
        bitsPerSecond = 0;
        string t = text.Trim();
        if (t.EndsWith("bps", StringComparison.OrdinalIgnoreCase) || t.EndsWith("b/s", StringComparison.OrdinalIgnoreCase))
        {
            t = t[..^3];
        }

        double multiplier = 1;
        if (t.Length > 0 && char.IsLetter(t[^1]))
        {
            multiplier = char.ToUpperInvariant(t[^1]) switch
            {
                'K' => 1e3,
                'M' => 1e6,
                'G' => 1e9,
                _ => 0,
            };
            t = t[..^1];
        }

        if (multiplier == 0 || !double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || value < 0 || !double.IsFinite(value))
        {
            return false;
        }

        bitsPerSecond = value * multiplier;
        return true;
    }

    public static string FormatByteSize(long bytes)
    {
        foreach ((long size, string unit) in new[] { (1L << 40, "TiB"), (1L << 30, "GiB"), (1L << 20, "MiB"), (1L << 10, "KiB") })
        {
            if (bytes >= size)
            {
                return string.Create(CultureInfo.InvariantCulture, $"{(double)bytes / size:0.##} {unit}");
            }
        }

        return string.Create(CultureInfo.InvariantCulture, $"{bytes} bytes");
    }

    public static string FormatDuration(TimeSpan duration) => duration.TotalSeconds switch
    {
        >= 3600 => string.Create(CultureInfo.InvariantCulture, $"{duration.TotalHours:0.##} h"),
        >= 60 => string.Create(CultureInfo.InvariantCulture, $"{duration.TotalMinutes:0.##} min"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{duration.TotalSeconds:0.##} s"),
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

    public static bool TryParseCodec(string text, out CodecId codec)
    {
        switch (text.ToLowerInvariant())
        {
            case "jpeg" or "jpg" or "mjpeg":
                codec = CodecId.Jpeg;
                return true;
            case "raw" or "bgr" or "bgr24":
                codec = CodecId.RawBgr24;
                return true;
            case "h264" or "h.264" or "avc":
                codec = CodecId.H264;
                return true;
            default:
                codec = default;
                return false;
        }
    }

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

    public static string CodecName(CodecId codec) => CodecIds.Name(codec);
}
