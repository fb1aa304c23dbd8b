using System.Globalization;
using System.Text;

namespace Moderation.Streams.Hashing;

/// <summary>
/// The hashes of the eight rotations and mirror images of one picture, all computed from the one DCT of the
/// original (as the reference's <c>--pdqdih</c> does), plus the original's quality. Hashing a picture that was
/// really rotated or mirrored gives a hash close to, not always equal to, the matching entry: upstream's
/// bridge set is 0 to 18 bits away.
/// </summary>
public readonly record struct PdqDihedral(
    PdqHash Original,
    PdqHash Rotate90,
    PdqHash Rotate180,
    PdqHash Rotate270,
    PdqHash FlipX,
    PdqHash FlipY,
    PdqHash FlipPlus1,
    PdqHash FlipMinus1,
    int Quality)
{
    public const int Count = 8;

    public PdqHash this[PdqTransform transform] => transform switch
    {
        PdqTransform.Original => Original,
        PdqTransform.Rotate90 => Rotate90,
        PdqTransform.Rotate180 => Rotate180,
        PdqTransform.Rotate270 => Rotate270,
        PdqTransform.FlipX => FlipX,
        PdqTransform.FlipY => FlipY,
        PdqTransform.FlipPlus1 => FlipPlus1,
        PdqTransform.FlipMinus1 => FlipMinus1,
        _ => throw new ArgumentOutOfRangeException(nameof(transform), transform, null),
    };

    /// <summary>The reference's <c>--pdqdih-across</c> line: the eight hashes in order, then quality, then the path.</summary>
    public string FormatLine(string path)
    {
        var line = new StringBuilder(Count * (PdqHash.HexLength + 1) + 4 + path.Length);
        for (int i = 0; i < Count; i++)
            line.Append(this[(PdqTransform)i].ToString()).Append(',');
        return line.Append(Quality.ToString(CultureInfo.InvariantCulture)).Append(',').Append(path).ToString();
    }
}
