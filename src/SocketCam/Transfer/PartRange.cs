using System.Globalization;
using System.Text;

namespace SocketCam.Transfer;

/// <summary>Parts <see cref="First"/> .. <see cref="First"/> + <see cref="Length"/> - 1 of a transfer (numbered from 0).</summary>
internal readonly record struct PartRange(int First, int Length)
{
    public int Last => First + Length - 1;

    public override string ToString() => Length == 1
        ? First.ToString(CultureInfo.InvariantCulture)
        : string.Create(CultureInfo.InvariantCulture, $"{First}-{Last}");

    /// <summary>
    /// What users read: <c>missing 3 of 120 parts: 7, 40-41</c>. At most <paramref name="maxShown"/> ranges are named;
    /// an ellipsis says when there are more (or when <paramref name="ranges"/> does not cover every missing part).
    /// </summary>
    public static string DescribeMissing(int missing, int count, IReadOnlyList<PartRange> ranges, int maxShown = 12)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"missing {missing} of {count} part{(count == 1 ? "" : "s")}");
        if (ranges.Count == 0)
        {
            return text.ToString();
        }

        text.Append(": ");
        int shown = Math.Min(maxShown, ranges.Count);
        long covered = 0;
        for (int i = 0; i < ranges.Count; i++)
        {
            covered += ranges[i].Length;
            if (i < shown)
            {
                text.Append(i == 0 ? "" : ", ").Append(ranges[i].ToString());
            }
        }

        if (shown < ranges.Count || covered < missing)
        {
            text.Append(", ...");
        }

        return text.ToString();
    }
}
