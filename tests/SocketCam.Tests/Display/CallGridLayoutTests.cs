using SocketCam.Display;

namespace SocketCam.Tests.Display;

/// <summary>The call window's grid: n tiles and a window size in, tile rectangles out.</summary>
public sealed class CallGridLayoutTests
{
    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 2)]
    [InlineData(4, 2)]
    [InlineData(5, 3)]
    [InlineData(9, 3)]
    [InlineData(10, 4)]
    [InlineData(16, 4)]
    [InlineData(17, 5)]
    [InlineData(100, 10)]
    public void Columns_are_the_ceiling_of_the_square_root(int count, int columns) => Assert.Equal(columns, CallGridLayout.Columns(count));

    [Fact]
    public void No_tiles_no_rectangles() => Assert.Empty(CallGridLayout.Compute(0, 1280, 720));

    [Fact]
    public void One_tile_fills_a_16_by_9_window_but_the_gaps()
    {
        PixelRect tile = Assert.Single(CallGridLayout.Compute(1, 1280, 720));
        int gap = CallGridLayout.Gap(1280, 720);
        Assert.Equal(7, gap);
        // The height is the limit: 720 - 2 gaps = 706, 1255 wide (706 * 16 / 9), centred.
        Assert.Equal(new PixelRect((1280 - 1255) / 2, 7, 1255, 706), tile);
    }

    [Fact]
    public void Four_tiles_make_a_centred_two_by_two_grid()
    {
        PixelRect[] tiles = CallGridLayout.Compute(4, 1280, 720);
        // Rows: 720 - 3 gaps = 699, 349 each; 349 * 16 / 9 = 620 wide. Grid 2 * 620 + 7 = 1247 wide, 2 * 349 + 7 = 705 tall.
        Assert.Equal(new PixelRect(16, 7, 620, 349), tiles[0]);
        Assert.Equal(new PixelRect(16 + 627, 7, 620, 349), tiles[1]);
        Assert.Equal(new PixelRect(16, 7 + 356, 620, 349), tiles[2]);
        Assert.Equal(new PixelRect(16 + 627, 7 + 356, 620, 349), tiles[3]);
    }

    [Fact]
    public void A_last_row_that_is_not_full_is_centred()
    {
        PixelRect[] tiles = CallGridLayout.Compute(3, 1280, 720);
        Assert.Equal(tiles[0].Y, tiles[1].Y);
        Assert.True(tiles[2].Y > tiles[0].Y);
        // The lone tile of the second row sits in the middle, under the gap between the first two.
        int middle = (tiles[2].X * 2) + tiles[2].Width;
        Assert.Equal(1280, middle, tolerance: 1);

        PixelRect[] five = CallGridLayout.Compute(5, 1280, 720);
        Assert.Equal(five[3].Y, five[4].Y);
        Assert.Equal(1280, five[3].X + (five[4].X + five[4].Width), tolerance: 1);
    }

    [Theory]
    [InlineData(1, 1280, 720)]
    [InlineData(2, 1280, 720)]
    [InlineData(3, 800, 600)]
    [InlineData(4, 1920, 1080)]
    [InlineData(5, 640, 1000)]
    [InlineData(7, 1000, 300)]
    [InlineData(12, 1280, 720)]
    [InlineData(25, 333, 777)]
    public void Tiles_are_16_by_9_inside_the_window_apart_and_centred(int count, int width, int height)
    {
        PixelRect[] tiles = CallGridLayout.Compute(count, width, height);
        Assert.Equal(count, tiles.Length);
        int gap = CallGridLayout.Gap(width, height);
        foreach (PixelRect tile in tiles)
        {
            Assert.False(tile.IsEmpty);
            Assert.Equal(tile.Width * 9.0 / 16, tile.Height, tolerance: 1.0);
            Assert.True(tile.X >= gap && tile.Y >= gap && tile.X + tile.Width <= width - gap && tile.Y + tile.Height <= height - gap, $"{tile} in {width}x{height}");
        }

        for (int i = 0; i < tiles.Length; i++)
        {
            for (int j = i + 1; j < tiles.Length; j++)
            {
                bool apart = tiles[i].X + tiles[i].Width + gap <= tiles[j].X || tiles[j].X + tiles[j].Width + gap <= tiles[i].X
                    || tiles[i].Y + tiles[i].Height + gap <= tiles[j].Y || tiles[j].Y + tiles[j].Height + gap <= tiles[i].Y;
                Assert.True(apart, $"{tiles[i]} and {tiles[j]} are closer than the gap {gap}");
            }
        }

        // Centred: the space left above equals the space below, and left of the widest row equals right of it (±1).
        int top = tiles.Min(t => t.Y), bottom = tiles.Max(t => t.Y + t.Height);
        int left = tiles.Min(t => t.X), right = tiles.Max(t => t.X + t.Width);
        Assert.Equal(top, height - bottom, tolerance: 1);
        Assert.Equal(left, width - right, tolerance: 1);
        // As large as fits: one side of the grid is within a gap and a rounding of the window's edge.
        Assert.True(left <= gap + CallGridLayout.Columns(count) || top <= gap + count, $"the grid {left},{top} could be larger");
    }

    [Fact]
    public void A_window_too_small_gives_empty_tiles_not_negative_ones()
    {
        PixelRect[] tiles = CallGridLayout.Compute(9, 10, 6);
        Assert.Equal(9, tiles.Length);
        Assert.All(tiles, t => Assert.True(t.Width >= 0 && t.Height >= 0));
        Assert.All(CallGridLayout.Compute(2, 0, 0), t => Assert.True(t.IsEmpty));
    }
}
