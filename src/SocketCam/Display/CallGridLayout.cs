namespace SocketCam.Display;

/// <summary>
/// Where a call window's tiles go: a grid of ceil(sqrt(n)) columns and as many rows as needed, every tile 16:9 and as
/// large as fits with a small gap between tiles and around the grid, the grid centred, and a last row that is not full
/// centred too. Pure arithmetic on whole pixels.
/// </summary>
internal static class CallGridLayout
{
    /// <summary>Tiles are 16:9, the shape of most cameras' pictures.</summary>
    public const int AspectWidth = 16;

    /// <inheritdoc cref="AspectWidth"/>
    public const int AspectHeight = 9;

    /// <summary>Columns for <paramref name="count"/> tiles: ceil(sqrt(count)) (1, 2, 2, 2, 3, 3, ...); 0 for none.</summary>
    public static int Columns(int count)
    {
        if (count <= 0)
        {
            return 0;
        }

        int columns = (int)Math.Sqrt(count);
        while (columns * columns < count)
        {
            columns++;
        }

        return columns;
    }

    /// <summary>The gap between tiles and around the grid: 1% of the shorter side, 4 to 12 pixels (smaller in a tiny window).</summary>
    public static int Gap(int width, int height) => Math.Min(Math.Clamp(Math.Min(width, height) / 100, 4, 12), Math.Min(width, height) / 8);

    /// <summary>
    /// The rectangles of <paramref name="count"/> tiles, in order (row by row, left to right), in a
    /// <paramref name="width"/>x<paramref name="height"/> window. Empty for no tiles; tiles of zero size when the window is
    /// too small to hold them.
    /// </summary>
    public static PixelRect[] Compute(int count, int width, int height)
    {
        if (count <= 0)
        {
            return [];
        }

        var tiles = new PixelRect[count];
        if (width <= 0 || height <= 0)
        {
            return tiles;
        }

        int columns = Columns(count);
        int rows = (count + columns - 1) / columns;
        int gap = Gap(width, height);
        int freeWidth = Math.Max(0, width - ((columns + 1) * gap));
        int freeHeight = Math.Max(0, height - ((rows + 1) * gap));

        // As wide as the columns allow, unless the rows' height is the tighter limit (compared exactly, in 64 bits).
        int tileWidth = freeWidth / columns;
        int tileHeight = (int)((long)tileWidth * AspectHeight / AspectWidth);
        if ((long)tileHeight * rows > freeHeight)
        {
            tileHeight = freeHeight / rows;
            tileWidth = (int)((long)tileHeight * AspectWidth / AspectHeight);
        }

        int gridHeight = (rows * tileHeight) + ((rows - 1) * gap);
        int top = (height - gridHeight) / 2;
        for (int i = 0; i < count; i++)
        {
            int row = i / columns;
            int inRow = row == rows - 1 ? count - (row * columns) : columns;
            int rowWidth = (inRow * tileWidth) + ((inRow - 1) * gap);
            int left = (width - rowWidth) / 2;
            int column = i % columns;
            tiles[i] = new PixelRect(left + (column * (tileWidth + gap)), top + (row * (tileHeight + gap)), tileWidth, tileHeight);
        }

        return tiles;
    }
}
