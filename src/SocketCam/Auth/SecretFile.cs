using System.Security.Cryptography;

namespace SocketCam.Auth;

/// <summary>
/// The hub's small secrets kept in its data directory and reused across restarts, like its certificate: the token key
/// (<c>token.key</c>) and the generated access token (<c>access-token</c>). Created once, readable by the owner only (0600).
/// </summary>
public static class SecretFile
{
    /// <summary>The key `socketcam token` signs with and serve checks with.</summary>
    public const string KeyFileName = "token.key";

    /// <summary>The token serve makes up when it listens beyond loopback without `--token` or `--open`.</summary>
    public const string AccessTokenFileName = "access-token";

    private const int MaxBytes = 4096;

    /// <summary>The key in <paramref name="path"/> (base64 of at least 32 bytes), made if the file does not exist.</summary>
    public static byte[] LoadOrCreateKey(string path) => KeyFrom(LoadOrCreate(path, () => Convert.ToBase64String(RoomTokens.NewKey())), path);

    /// <summary>The key in an existing file (`--key-file`); a missing or bad file is an <see cref="IOException"/> with one line.</summary>
    public static byte[] LoadKey(string path) => KeyFrom(Read(path), path);

    /// <summary>The access token in <paramref name="path"/>, made if the file does not exist (128 random bits, URL-safe).</summary>
    public static string LoadOrCreateAccessToken(string path) =>
        LoadOrCreate(path, () => Convert.ToBase64String(RandomNumberGenerator.GetBytes(16)).TrimEnd('=').Replace('+', '-').Replace('/', '_'));

    private static byte[] KeyFrom(string text, string path)
    {
        try
        {
            byte[] key = Convert.FromBase64String(text);
            if (key.Length >= RoomTokens.MinKeyBytes)
            {
                return key;
            }
        }
        catch (FormatException)
        {
        }

        throw new IOException($"{path} does not hold a token key (base64 of at least {RoomTokens.MinKeyBytes} bytes; e.g. `head -c 32 /dev/urandom | base64 > {path}`)");
    }

    private static string LoadOrCreate(string path, Func<string> make)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        try
        {
            // CreateNew: two processes starting at once cannot both write one; the loser reads the winner's.
            string made = make();
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using (var file = new FileStream(path, options))
            using (var writer = new StreamWriter(file))
            {
                writer.Write(made + "\n");
                writer.Flush();
                file.Flush(flushToDisk: true);
            }

            return made;
        }
        catch (IOException) when (File.Exists(path))
        {
            for (int attempt = 0; ; attempt++)
            {
                string text = Read(path);
                if (text.Length > 0 || attempt == 20)
                {
                    return text;
                }

                Thread.Sleep(10); // the winner is still writing its few bytes
            }
        }
    }

    private static string Read(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new IOException($"{path}: no such file");
        }

        if (info.Length > MaxBytes)
        {
            throw new IOException($"{path} is {info.Length} bytes: not a secret file (at most {MaxBytes})");
        }

        return File.ReadAllText(path).Trim();
    }
}
