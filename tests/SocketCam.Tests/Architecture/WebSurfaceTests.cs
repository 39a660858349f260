using System.Reflection;
using System.Runtime.CompilerServices;
using SocketCam.Hub;

namespace SocketCam.Tests.Architecture;

/// <summary>SocketCam.Web builds on the engine's public surface only: the engine grants it no internals.</summary>
public sealed class WebSurfaceTests
{
    [Fact]
    public void The_engine_shows_its_internals_to_the_CLI_tests_and_benchmarks_but_not_to_the_web_host()
    {
        string[] friends = [.. typeof(HubServer).Assembly.GetCustomAttributes<InternalsVisibleToAttribute>().Select(a => a.AssemblyName).Order(StringComparer.Ordinal)];
        Assert.Equal(["SocketCam.Benchmarks", "SocketCam.Tests", "socketcam"], friends);
    }
}
