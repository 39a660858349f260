using SocketCam.Display;

namespace SocketCam.Tests.Display;

public sealed class LetterboxTests
{
    [Theory]
    [InlineData(1280, 720, 1280, 720, 0, 0, 1280, 720)]   // same size
    [InlineData(1280, 720, 640, 360, 0, 0, 640, 360)]     // same shape, smaller
    [InlineData(1280, 720, 1000, 1000, 0, 218, 1000, 563)] // square window: bars above and below (562.5 rounds up)
    [InlineData(320, 240, 640, 200, 186, 0, 267, 200)]    // wide window: bars left and right
    [InlineData(320, 240, 300, 500, 0, 137, 300, 225)]    // tall window
    [InlineData(640, 480, 641, 480, 0, 0, 640, 480)]      // one spare column: the picture stays at the left edge
    [InlineData(1, 1, 7, 3, 2, 0, 3, 3)]
    [InlineData(8192, 1, 100, 100, 0, 49, 100, 1)]        // far thinner than the window: still one pixel tall
    public void Fits_the_largest_centred_rectangle_of_the_same_shape(int pw, int ph, int ow, int oh, int x, int y, int w, int h)
    {
        Assert.Equal(new PixelRect(x, y, w, h), Letterbox.Fit(pw, ph, ow, oh));
    }

    [Theory]
    [InlineData(0, 720, 100, 100)]
    [InlineData(1280, 720, 0, 100)]
    [InlineData(1280, 720, 100, -1)]
    public void Nothing_to_fit_gives_an_empty_rectangle(int pw, int ph, int ow, int oh)
    {
        Assert.True(Letterbox.Fit(pw, ph, ow, oh).IsEmpty);
    }

    [Fact]
    public void Every_fit_touches_two_opposite_edges_and_keeps_the_ratio_within_a_pixel()
    {
        var random = new Random(5);
        for (int i = 0; i < 10_000; i++)
        {
            int pw = random.Next(1, 4000), ph = random.Next(1, 4000), ow = random.Next(1, 3000), oh = random.Next(1, 3000);
            PixelRect r = Letterbox.Fit(pw, ph, ow, oh);
            Assert.True(r.X >= 0 && r.Y >= 0 && r.X + r.Width <= ow && r.Y + r.Height <= oh, $"{pw}x{ph} in {ow}x{oh}: {r}");
            Assert.True(r.Width == ow || r.Height == oh, $"{pw}x{ph} in {ow}x{oh}: {r} touches neither pair of edges");
            Assert.True(Math.Abs(r.X - (ow - r.X - r.Width)) <= 1 && Math.Abs(r.Y - (oh - r.Y - r.Height)) <= 1, $"not centred: {r}");

            // The other side is the exact ratio, rounded (or 1 when that rounds to nothing).
            double ideal = r.Width == ow ? (double)ow * ph / pw : (double)oh * pw / ph;
            int other = r.Width == ow ? r.Height : r.Width;
            Assert.True(Math.Abs(other - Math.Max(1, ideal)) <= 0.5 + 1e-9 || (ideal > (r.Width == ow ? oh : ow)), $"{pw}x{ph} in {ow}x{oh}: {r}, ideal {ideal}");
        }
    }
}
