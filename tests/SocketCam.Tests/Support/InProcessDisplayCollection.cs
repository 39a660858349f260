namespace SocketCam.Tests.Support;

/// <summary>
/// Tests that open a window inside the test process (<see cref="XvfbDisplay.UseInThisProcess"/>): they point the whole
/// process at their X server, and SDL allows one video subsystem per process, so they run one at a time and alone, after
/// the tests that run in parallel (no child process started meanwhile inherits their DISPLAY).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class InProcessDisplayCollection
{
    public const string Name = "In-process display";
}
