namespace SocketCam.Tests.Support;

/// <summary>The checkout the tests were built from (the folder with SocketCam.sln): its docs, scripts and tools.</summary>
internal static class RepositoryFiles
{
    public static string Root { get; } = Find();

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string Find()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "SocketCam.sln")))
            {
                return d.FullName;
            }
        }

        throw new InvalidOperationException($"no SocketCam.sln above {AppContext.BaseDirectory}");
    }
}
